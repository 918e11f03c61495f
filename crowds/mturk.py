"""The Amazon Mechanical Turk backend (boto3 ``mturk`` client, API 2017-01-17).

MTurk closes permanently on 2026-09-30 (docs/crowds.md); this adapter stays for archives,
MTurk-compatible endpoints and users with existing accounts. Work is published as HITs whose
ExternalQuestion frames our HIT page (``crowds.views``); a periodic sync confirms the
pending votes, approves or rejects, pays bonuses and expires HITs of finished synsets.

Publishing and syncing call the network, so they are not one database transaction: each step is
recorded as soon as the platform accepted it, and every step is idempotent (UniqueRequestToken
for HITs and bonuses, local state checked before approve/reject/expire), so a retried run picks
up where a failed one stopped.
"""

from __future__ import annotations

import logging
import math
import random
import time
import xml.etree.ElementTree as ET  # noqa: S405 - see _answer_fields
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from xml.sax.saxutils import escape

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
)
from django.db import transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone

from crowds.costs import mturk_fee_cents, mturk_hit_cost_cents, project_committed_cents
from labeling.models import Item, Project, ProjectSynset

from . import conf
from .assignments import (
    crowd_assignment_confirm,
    crowd_assignment_discard,
    crowd_worker_accounts_expire,
)
from .base import (
    BudgetExhausted,
    CrowdRefused,
    CrowdUnavailable,
    NotConfigured,
    PublishResult,
    PublishSpec,
    SyncResult,
)
from .models import (
    MTURK_MAX_ASSIGNMENTS_PER_HIT,
    CrowdAssignment,
    CrowdHIT,
    CrowdPayment,
    CrowdPublication,
)

logger = logging.getLogger(__name__)

EXTERNAL_QUESTION_SCHEMA = (
    "http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/2006-07-14/"
    "ExternalQuestion.xsd"
)
QUALIFICATION_APPROVAL_RATE = "000000000000000000L0"
QUALIFICATION_LOCALE = "00000000000000000071"
RETRYABLE_CODES = {"ThrottlingException", "Throttling", "ServiceUnavailable", "TooManyRequests"}
# Answer fields our HIT page posts to <turkSubmitTo>/mturk/externalSubmit.
ANSWER_DIGEST_FIELD = "digest"
LIST_PAGE_SIZE = 100
# Extend a HIT of an unfinished synset when it has less than this left to live.
EXTEND_WHEN_LEFT = timedelta(days=1)
MTURK_CLOSED_NOTE = (
    "Amazon Mechanical Turk stopped taking new customers on 2026-07-30 and closes permanently on "
    "2026-09-30; publish to the built-in crowd or a panel link instead."
)


def mturk_client():
    """A boto3 MTurk client for the configured endpoint (sandbox unless MTURK_SANDBOX=False).

    botocore's own retries are off: ``MTurkApi`` retries throttling itself, with backoff, so
    that a test's Stubber sees exactly the calls we make.
    """
    return boto3.client(
        "mturk",
        region_name=conf.mturk_region(),
        endpoint_url=conf.mturk_endpoint_url(),
        config=Config(
            retries={"total_max_attempts": 1, "mode": "standard"},
            connect_timeout=5,
            read_timeout=30,
        ),
        **conf.mturk_credentials(),
    )


class MTurkApi:
    """Calls MTurk with retries on throttling and turns failures into messages an admin can act
    on (``CrowdUnavailable`` for the network, ``CrowdRefused`` for the account)."""

    def __init__(self, client=None, *, sleep: Callable[[float], None] = time.sleep):
        self.client = client if client is not None else mturk_client()
        self.sleep = sleep

    @property
    def endpoint(self) -> str:
        return self.client.meta.endpoint_url

    def call(self, operation: str, **params):
        attempts = conf.mturk_max_retries() + 1
        for attempt in range(attempts):
            try:
                return getattr(self.client, operation)(**params)
            except ClientError as error:
                code = error.response.get("Error", {}).get("Code", "")
                status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
                if (code in RETRYABLE_CODES or status in {429, 503}) and attempt + 1 < attempts:
                    # Full jitter (AWS's advice): spreads the retries of concurrent syncs.
                    delay = conf.mturk_retry_base_seconds() * (2**attempt)
                    self.sleep(delay * (0.5 + random.random() / 2))  # noqa: S311
                    continue
                message = error.response.get("Error", {}).get("Message", "") or str(error)
                raise CrowdRefused(
                    f"MTurk refused {operation} at {self.endpoint} ({code or status}): {message}. "
                    f"Check the requester account and credentials. {MTURK_CLOSED_NOTE}"
                ) from error
            except EndpointConnectionError as error:
                raise CrowdUnavailable(
                    f"Cannot reach the MTurk endpoint {self.endpoint}: {error}. "
                    f"Check MTURK_ENDPOINT_URL and the network. {MTURK_CLOSED_NOTE}"
                ) from error
            except NoCredentialsError as error:
                raise NotConfigured(
                    "No AWS credentials for MTurk: set MTURK_AWS_ACCESS_KEY_ID and "
                    "MTURK_AWS_SECRET_ACCESS_KEY (or an AWS profile)."
                ) from error
            except BotoCoreError as error:
                raise CrowdUnavailable(
                    f"MTurk call {operation} failed at {self.endpoint}: {error}"
                ) from error
        raise AssertionError("unreachable")  # pragma: no cover

    def balance_cents(self) -> int:
        response = self.call("get_account_balance")
        return int(Decimal(response["AvailableBalance"]) * 100)


def _dollars(cents: int) -> str:
    return f"{Decimal(cents) / 100:.2f}"


def external_question_xml(*, url: str, frame_height: int) -> str:
    return (
        f'<ExternalQuestion xmlns="{EXTERNAL_QUESTION_SCHEMA}">'
        f"<ExternalURL>{escape(url)}</ExternalURL>"
        f"<FrameHeight>{int(frame_height)}</FrameHeight>"
        "</ExternalQuestion>"
    )


def hit_page_url() -> str:
    base = conf.crowds_public_base_url()
    if not base.startswith("https://"):
        raise NotConfigured(
            "Set CROWDS_PUBLIC_BASE_URL to the HTTPS address workers reach this site at "
            "(MTurk only frames HTTPS pages)."
        )
    return base + reverse("crowds:mturk-hit")


def qualification_requirements() -> list[dict]:
    requirements: list[dict] = [
        {
            "QualificationTypeId": QUALIFICATION_APPROVAL_RATE,
            "Comparator": "GreaterThanOrEqualTo",
            "IntegerValues": [conf.mturk_min_approval_rate()],
            "ActionsGuarded": "Accept",
        }
    ]
    locales = conf.mturk_worker_locales()
    if locales:
        requirements.append(
            {
                "QualificationTypeId": QUALIFICATION_LOCALE,
                "Comparator": "In",
                "LocaleValues": [{"Country": country} for country in locales],
                "ActionsGuarded": "Accept",
            }
        )
    return requirements


def hit_plan(*, project: Project, assignments_per_hit: int) -> list[tuple[str, int]]:
    """(synset, max_assignments) for the HITs the project's open images still need.

    Per synset: enough assignments for the votes still wanted (``images_per_hit`` votes each) and
    at least as many as the most-wanted image needs (one vote per worker), less the slots of HITs
    already open. Split so no HIT reaches 10 assignments (MTurk's fee doubles there), and
    interleaved across synsets so a budget cut spreads over all of them.
    """
    per_hit = max(1, min(assignments_per_hit, MTURK_MAX_ASSIGNMENTS_PER_HIT))
    open_slots: dict[str, int] = {}
    for synset_id, slots in CrowdHIT.objects.filter(
        project=project, status=CrowdHIT.Status.OPEN
    ).values_list("synset_id", F("max_assignments") - F("assignments_submitted")):
        open_slots[synset_id] = open_slots.get(synset_id, 0) + max(0, slots)
    wanted: dict[str, tuple[int, int]] = {}
    rows = Item.objects.filter(
        project=project, state=Item.State.PENDING, is_gold=False, votes_needed__gt=0
    ).values_list("synset_id", "votes_needed", "active_leases")
    for synset_id, needed, leased in rows:
        votes, most = wanted.get(synset_id, (0, 0))
        wanted[synset_id] = (votes + max(0, needed - leased), max(most, needed))
    queues: list[list[tuple[str, int]]] = []
    for synset_id in sorted(wanted):
        votes, most = wanted[synset_id]
        needed = max(math.ceil(votes / project.images_per_hit), most) - open_slots.get(
            synset_id, 0
        )
        if needed <= 0:
            continue
        n_hits = math.ceil(needed / per_hit)
        sizes = [needed // n_hits + (1 if i < needed % n_hits else 0) for i in range(n_hits)]
        queues.append([(synset_id, size) for size in sizes])
    plan: list[tuple[str, int]] = []
    while any(queues):
        for queue in queues:
            if queue:
                plan.append(queue.pop(0))
    return plan


def mturk_publish(
    *, project: Project, spec: PublishSpec, user=None, api: MTurkApi | None = None
) -> PublishResult:
    """Publish the project's open work as MTurk HITs, never beyond its budget or the account's
    balance. Raises ``CrowdError`` subclasses with a message for the admin."""
    if project.budget_cents is None:
        raise BudgetExhausted("Set a budget for this project before publishing to a paid crowd.")
    if spec.reward_cents < 1:
        raise NotConfigured("The reward per HIT must be at least 1 cent.")
    url = hit_page_url()
    api = api or MTurkApi()
    balance = api.balance_cents()
    publication, plan, result = _publication_reserve(
        project=project, spec=spec, user=user, balance_cents=balance, endpoint=api.endpoint
    )
    if publication is None:
        return result
    try:
        hit_type = api.call(
            "create_hit_type",
            Title=publication.title,
            Description=publication.description,
            Keywords=publication.keywords,
            Reward=_dollars(publication.reward_cents),
            AssignmentDurationInSeconds=max(30, project.lease_seconds),
            AutoApprovalDelayInSeconds=spec.auto_approval_delay_seconds,
            QualificationRequirements=qualification_requirements(),
        )
        publication.hit_type_id = hit_type["HITTypeId"]
        publication.save(update_fields=["hit_type_id", "updated_at"])
        question = external_question_xml(url=url, frame_height=conf.mturk_frame_height())
        for index, (synset_id, size) in enumerate(plan):
            response = api.call(
                "create_hit_with_hit_type",
                HITTypeId=publication.hit_type_id,
                MaxAssignments=size,
                LifetimeInSeconds=publication.lifetime_seconds,
                Question=question,
                RequesterAnnotation=f"synsetlab:{project.slug}:{synset_id}"[:255],
                # Same token on a retry: MTurk returns an error instead of a second HIT.
                UniqueRequestToken=f"synsetlab-{publication.pk}-{index}",
            )
            hit = response["HIT"]
            CrowdHIT.objects.create(
                publication=publication,
                project=project,
                synset_id=synset_id,
                hit_id=hit["HITId"],
                max_assignments=size,
                reward_cents=publication.reward_cents,
                expires_at=hit.get("Expiration"),
            )
            result.hits_created += 1
            result.assignments += size
    except Exception as error:
        publication.last_error = str(getattr(error, "message", error))[:2000]
        publication.save(update_fields=["last_error", "updated_at"])
        raise
    finally:
        _publication_commit_actual(publication_id=publication.pk)
        publication.refresh_from_db()
        result.committed_cents = publication.committed_cents
    return result


@transaction.atomic
def _publication_reserve(
    *, project: Project, spec: PublishSpec, user, balance_cents: int, endpoint: str
) -> tuple[CrowdPublication | None, list[tuple[str, int]], PublishResult]:
    """Plan the HITs and reserve their cost against the budget, under the project's row lock so
    two admins publishing at once cannot both spend the same money."""
    project = Project.objects.select_for_update().get(pk=project.pk)
    result = PublishResult()
    plan = hit_plan(project=project, assignments_per_hit=spec.assignments_per_hit)
    if spec.max_hits is not None:
        plan = plan[: spec.max_hits]
    if not plan:
        result.stopped_by = "nothing_to_publish"
        result.messages.append("No image of this project needs votes: nothing to publish.")
        return None, [], result
    available = min((project.budget_cents or 0) - project_committed_cents(project=project),
                    balance_cents)  # fmt: skip
    kept, cost = [], 0
    for synset_id, size in plan:
        hit_cost = mturk_hit_cost_cents(reward_cents=spec.reward_cents, max_assignments=size)
        if cost + hit_cost > available:
            result.stopped_by = (
                "balance" if balance_cents < (project.budget_cents or 0) else "budget"
            )
            break
        kept.append((synset_id, size))
        cost += hit_cost
    if result.stopped_by:
        result.messages.append(
            f"Stopped at the {result.stopped_by}: {len(kept)} of {len(plan)} HITs fit "
            f"(${_dollars(max(0, available))} available)."
        )
    if not kept:
        raise BudgetExhausted(result.messages[-1])
    publication = CrowdPublication.objects.create(
        project=project,
        backend="mturk",
        sandbox=conf.mturk_sandbox(),
        endpoint_url=endpoint,
        title=(spec.title or f"Which images show: {project.name}?")[:128],
        description=(
            spec.description
            or "Look at a grid of photos and select every one that shows the named thing."
        )[:2000],
        keywords=spec.keywords[:1000],
        reward_cents=spec.reward_cents,
        bonus_cents=spec.bonus_cents,
        assignments_per_hit=min(spec.assignments_per_hit, MTURK_MAX_ASSIGNMENTS_PER_HIT),
        lifetime_seconds=spec.lifetime_seconds,
        committed_cents=cost,
        created_by=user,
    )
    return publication, kept, result


@transaction.atomic
def _publication_commit_actual(*, publication_id: int) -> None:
    """Shrink the reservation to the HITs that exist, at what they can still cost."""
    publication = CrowdPublication.objects.select_for_update().get(pk=publication_id)
    total = 0
    for hit in publication.hits.all():
        if hit.status == CrowdHIT.Status.OPEN:
            total += mturk_hit_cost_cents(
                reward_cents=hit.reward_cents, max_assignments=hit.max_assignments
            )
        else:
            total += mturk_hit_cost_cents(
                reward_cents=hit.reward_cents, max_assignments=hit.max_assignments
            ) // hit.max_assignments * hit.assignments_submitted
    publication.committed_cents = total
    publication.save(update_fields=["committed_cents", "updated_at"])


def _answer_fields(answer_xml: str) -> dict[str, str]:
    """The free-text fields of an MTurk QuestionFormAnswers document.

    The document comes from MTurk's API over TLS and Python's expat neither fetches external
    entities nor expands nested ones without limit, so the standard parser is safe here.
    """
    if not answer_xml:
        return {}
    try:
        root = ET.fromstring(answer_xml)  # noqa: S314
    except (ET.ParseError, ValueError):
        return {}
    fields: dict[str, str] = {}
    for answer in root.iter():
        if not answer.tag.endswith("Answer") or answer.tag.endswith("FormAnswers"):
            continue
        name = value = None
        for child in answer:
            if child.tag.endswith("QuestionIdentifier"):
                name = (child.text or "").strip()
            elif child.tag.endswith("FreeText"):
                value = (child.text or "").strip()
        if name:
            fields[name] = value or ""
    return fields


def _list_assignments(api: MTurkApi, hit_id: str) -> list[dict]:
    assignments: list[dict] = []
    params: dict = {
        "HITId": hit_id,
        "MaxResults": LIST_PAGE_SIZE,
        "AssignmentStatuses": ["Submitted", "Approved", "Rejected"],
    }
    while True:
        page = api.call("list_assignments_for_hit", **params)
        assignments.extend(page.get("Assignments", []))
        token = page.get("NextToken")
        if not token or not page.get("Assignments"):
            return assignments
        params["NextToken"] = token


def mturk_sync(*, publication_id: int, api: MTurkApi | None = None) -> SyncResult:
    """Reconcile one publication with MTurk: confirm or discard pending submissions, approve good
    work, reject failed gold checks, pay bonuses, expire HITs of finished synsets (or extend those
    still needed), and exclude votes MTurk never confirmed. Idempotent."""
    publication = CrowdPublication.objects.select_related("project").get(pk=publication_id)
    api = api or MTurkApi()
    result = SyncResult()
    hits = list(
        publication.hits.filter(
            Q(status=CrowdHIT.Status.OPEN)
            | Q(assignments__state=CrowdAssignment.State.SUBMITTED)
            | Q(assignments__state=CrowdAssignment.State.CONFIRMED,
                assignments__payment=CrowdAssignment.Payment.NONE)
        ).distinct().order_by("pk")
    )  # fmt: skip
    for hit in hits:
        platform = _list_assignments(api, hit.hit_id)
        for record in platform:
            result.seen += 1
            _assignment_sync(api=api, hit=hit, record=record, result=result)
        CrowdHIT.objects.filter(pk=hit.pk).update(
            assignments_submitted=len(platform), synced_at=timezone.now()
        )
    _hits_expire_or_extend(api=api, publication=publication, result=result)
    result.unconfirmed = _pending_expire(publication=publication)
    _publication_commit_actual(publication_id=publication.pk)
    CrowdPublication.objects.filter(pk=publication.pk).update(
        last_synced_at=timezone.now(), last_error=""
    )
    return result


def _assignment_sync(*, api: MTurkApi, hit: CrowdHIT, record: dict, result: SyncResult) -> None:
    crowd = CrowdAssignment.objects.filter(
        backend=CrowdAssignment.Backend.MTURK, external_assignment_id=record["AssignmentId"]
    ).first()
    if crowd is None or crowd.hit_id != hit.pk:
        # Submitted on MTurk without a submission here: nothing to confirm; MTurk's
        # auto-approval delay or an admin decides.
        result.messages.append(f"{record['AssignmentId']}: no matching submission here")
        return
    if crowd.state == CrowdAssignment.State.SUBMITTED:
        digest = _answer_fields(record.get("Answer", "")).get(ANSWER_DIGEST_FIELD, "")
        if record.get("WorkerId") == crowd.external_worker_id and digest == crowd.answer_digest:
            crowd = crowd_assignment_confirm(crowd_assignment_id=crowd.pk)
            result.confirmed += 1
        else:
            crowd = crowd_assignment_discard(
                crowd_assignment_id=crowd.pk, state=CrowdAssignment.State.MISMATCH
            )
            result.mismatched += 1
            return
    if crowd.state != CrowdAssignment.State.CONFIRMED:
        return
    status = record.get("AssignmentStatus")
    if crowd.payment == CrowdAssignment.Payment.NONE:
        if status == "Submitted":
            feedback = _gold_failure(crowd)
            if feedback:
                api.call(
                    "reject_assignment",
                    AssignmentId=crowd.external_assignment_id,
                    RequesterFeedback=feedback,
                )
                _payment_record(crowd=crowd, approved=False, feedback=feedback)
                result.rejected += 1
            else:
                api.call("approve_assignment", AssignmentId=crowd.external_assignment_id)
                _payment_record(crowd=crowd, approved=True)
                result.approved += 1
        elif status in {"Approved", "Rejected"}:
            # Decided on MTurk already (auto-approval, an admin, or our earlier run).
            _payment_record(crowd=crowd, approved=status == "Approved")
        crowd.refresh_from_db()
    if crowd.payment == CrowdAssignment.Payment.APPROVED and _bonus_send(api=api, crowd=crowd):
        result.bonuses += 1


def _gold_failure(crowd: CrowdAssignment) -> str:
    """RequesterFeedback for an assignment that failed its gold checks, else ''. Gold checks are
    the only reason we reject: a worker is never refused pay for disagreeing with others."""
    project = crowd.assignment.project
    if not crowd.gold_total:
        return ""
    accuracy = crowd.gold_correct / crowd.gold_total
    if accuracy >= project.gold_block_below:
        return ""
    wrong = crowd.gold_total - crowd.gold_correct
    return (
        f"Rejected: {wrong} of the {crowd.gold_total} check images in this HIT, whose content "
        f"is known, were answered incorrectly; at least {project.gold_block_below:.0%} must be "
        "right. Please read the category's definition and look at every image."
    )[:1024]


@transaction.atomic
def _payment_record(*, crowd: CrowdAssignment, approved: bool, feedback: str = "") -> None:
    crowd = (
        CrowdAssignment.objects.select_for_update(of=("self",)).select_related("hit").get(pk=crowd.pk)
    )
    if crowd.payment != CrowdAssignment.Payment.NONE:
        return
    crowd.payment = (
        CrowdAssignment.Payment.APPROVED if approved else CrowdAssignment.Payment.REJECTED
    )
    crowd.paid_at = timezone.now()
    crowd.feedback = feedback
    crowd.save(update_fields=["payment", "paid_at", "feedback", "updated_at"])
    if approved:
        CrowdPayment.objects.get_or_create(
            token=f"synsetlab-reward-{crowd.pk}",
            defaults={
                "crowd_assignment": crowd,
                "kind": CrowdPayment.Kind.REWARD,
                "status": CrowdPayment.Status.SENT,
                "amount_cents": crowd.hit.reward_cents,
                "fee_cents": mturk_fee_cents(
                    amount_cents=crowd.hit.reward_cents,
                    max_assignments=crowd.hit.max_assignments,
                ),
                "sent_at": timezone.now(),
            },
        )


def _bonus_send(*, api: MTurkApi, crowd: CrowdAssignment) -> bool:
    """Pay the publication's bonus for all-correct gold, once (the token is MTurk's
    UniqueRequestToken) and only within the budget. Returns True when a bonus was sent now."""
    publication = crowd.hit.publication
    if not publication.bonus_cents or crowd.gold_correct != crowd.gold_total:
        return False
    payment = _bonus_reserve(crowd=crowd, amount_cents=publication.bonus_cents)
    if payment is None or payment.status != CrowdPayment.Status.PENDING:
        return False
    try:
        api.call(
            "send_bonus",
            WorkerId=crowd.external_worker_id,
            BonusAmount=_dollars(payment.amount_cents),
            AssignmentId=crowd.external_assignment_id,
            Reason="Thank you: every check image in this HIT was answered correctly.",
            UniqueRequestToken=payment.token,
        )
    except CrowdRefused as error:
        # A retry after a lost response: MTurk refuses the reused token, the bonus was paid.
        if "UniqueRequestToken" not in error.message and "already" not in error.message:
            raise
    CrowdPayment.objects.filter(pk=payment.pk).update(
        status=CrowdPayment.Status.SENT, sent_at=timezone.now()
    )
    return True


@transaction.atomic
def _bonus_reserve(*, crowd: CrowdAssignment, amount_cents: int) -> CrowdPayment | None:
    project = Project.objects.select_for_update().get(pk=crowd.assignment.project_id)
    token = f"synsetlab-bonus-{crowd.pk}"
    existing = CrowdPayment.objects.filter(token=token).first()
    if existing is not None:
        return existing
    fee = mturk_fee_cents(amount_cents=amount_cents)
    within = project_committed_cents(project=project) + amount_cents + fee <= (
        project.budget_cents or 0
    )
    return CrowdPayment.objects.create(
        crowd_assignment=crowd,
        kind=CrowdPayment.Kind.BONUS,
        status=CrowdPayment.Status.PENDING if within else CrowdPayment.Status.SKIPPED,
        amount_cents=amount_cents,
        fee_cents=fee,
        token=token,
    )


def _synset_finished(*, project: Project, synset_id: str | None) -> bool:
    if synset_id is None:
        return False
    at_target = ProjectSynset.objects.filter(
        project=project, synset_id=synset_id, accepted_count__gte=project.target_per_synset
    ).exists()
    open_images = Item.objects.filter(
        project=project, synset_id=synset_id, state=Item.State.PENDING, is_gold=False,
        votes_needed__gt=0,
    ).exists()  # fmt: skip
    return at_target or not open_images


def _hits_expire_or_extend(
    *, api: MTurkApi, publication: CrowdPublication, result: SyncResult
) -> None:
    project = publication.project
    now = timezone.now()
    for hit in publication.hits.filter(status=CrowdHIT.Status.OPEN).order_by("pk"):
        if _synset_finished(project=project, synset_id=hit.synset_id):
            mturk_hit_expire(api=api, hit=hit)
            result.expired_hits += 1
        elif hit.expires_at is not None and hit.expires_at - now < EXTEND_WHEN_LEFT:
            expire_at = now + timedelta(seconds=publication.lifetime_seconds)
            api.call("update_expiration_for_hit", HITId=hit.hit_id, ExpireAt=expire_at)
            CrowdHIT.objects.filter(pk=hit.pk).update(expires_at=expire_at)


def mturk_hit_expire(*, api: MTurkApi, hit: CrowdHIT) -> None:
    """Stop MTurk offering a HIT (an ExpireAt in the past expires it at once). Idempotent."""
    if hit.status == CrowdHIT.Status.EXPIRED:
        return
    past = datetime(2000, 1, 1, tzinfo=UTC)
    api.call("update_expiration_for_hit", HITId=hit.hit_id, ExpireAt=past)
    CrowdHIT.objects.filter(pk=hit.pk).update(
        status=CrowdHIT.Status.EXPIRED, expires_at=timezone.now()
    )


def _pending_expire(*, publication: CrowdPublication) -> int:
    """Exclude the votes of submissions MTurk never confirmed within the timeout (a forged or
    abandoned assignment id never appears in ListAssignmentsForHIT)."""
    cutoff = timezone.now() - timedelta(seconds=conf.crowds_pending_timeout_seconds())
    stale = list(
        CrowdAssignment.objects.filter(
            hit__publication=publication,
            state=CrowdAssignment.State.SUBMITTED,
            submitted_at__lt=cutoff,
        ).values_list("pk", flat=True)
    )
    # Opened and never submitted within the timeout (their leases ran out long ago): no
    # submission will come, so they too end unconfirmed.
    abandoned = list(
        CrowdAssignment.objects.filter(
            hit__publication=publication,
            state=CrowdAssignment.State.ACCEPTED,
            created_at__lt=cutoff,
        ).values_list("pk", flat=True)
    )
    for pk in stale + abandoned:
        crowd_assignment_discard(crowd_assignment_id=pk, state=CrowdAssignment.State.UNCONFIRMED)
    # Worker ids MTurk never vouched for keep no account (a timeout after their discard).
    crowd_worker_accounts_expire(discarded_before=cutoff)
    return len(stale)


def mturk_close(*, publication_id: int, api: MTurkApi | None = None) -> int:
    """Expire every open HIT of a publication and close it; returns the HITs expired.
    Pending submissions are still confirmed and paid by later syncs."""
    api = api or MTurkApi()
    publication = CrowdPublication.objects.get(pk=publication_id)
    expired = 0
    for hit in publication.hits.filter(status=CrowdHIT.Status.OPEN).order_by("pk"):
        mturk_hit_expire(api=api, hit=hit)
        expired += 1
    _publication_commit_actual(publication_id=publication_id)
    CrowdPublication.objects.filter(pk=publication_id).update(
        status=CrowdPublication.Status.CLOSED, closed_at=timezone.now()
    )
    return expired


class MTurkBackend:
    name = "mturk"

    def __init__(self, api: MTurkApi | None = None):
        self._api = api

    def publish(self, *, project: Project, spec: PublishSpec, user=None) -> PublishResult:
        return mturk_publish(project=project, spec=spec, user=user, api=self._api)

    def sync(self, *, project: Project) -> SyncResult:
        total = SyncResult()
        for pk in CrowdPublication.objects.filter(project=project, backend="mturk").filter(
            Q(status=CrowdPublication.Status.OPEN)
            | Q(hits__assignments__state=CrowdAssignment.State.SUBMITTED)
        ).distinct().values_list("pk", flat=True):  # fmt: skip
            one = mturk_sync(publication_id=pk, api=self._api)
            for name in ("seen", "confirmed", "mismatched", "approved", "rejected", "bonuses",
                         "expired_hits", "unconfirmed"):  # fmt: skip
                setattr(total, name, getattr(total, name) + getattr(one, name))
            total.messages.extend(one.messages)
        return total

    def close(self, *, project: Project) -> int:
        return sum(
            mturk_close(publication_id=pk, api=self._api)
            for pk in CrowdPublication.objects.filter(
                project=project, backend="mturk", status=CrowdPublication.Status.OPEN
            ).values_list("pk", flat=True)
        )

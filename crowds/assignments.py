"""Crowd workers' assignments: worker accounts per platform id, HITs leased through the regular
scheduler, and submissions whose votes stay *pending* until the platform confirms them.

Why pending: an ExternalQuestion's ``workerId`` arrives in the URL and can be forged
(docs/crowds.md). Until ListAssignmentsForHIT shows the same assignment, worker and answer, the
votes do not count, do not move the images' counters and do not touch the named worker's gold
record (a forger could otherwise get a real worker blocked). Their images do not stay leased
meanwhile (a forger would otherwise hold them for a day): a confirmed image may end up with more
votes than it needed, which consensus keeps as extra evidence.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from labeling.hits.scheduler import hit_next_for_worker
from labeling.locks import assignment_lock, item_keys_lock, items_lock, worker_profile_lock
from labeling.models import Assignment, AssignmentItem, Project, Vote
from labeling.votes import (
    AlreadySubmittedDifferently,
    InvalidItems,
    SubmissionError,
    answers_key,
    answers_split,
    gold_ids_of,
    leases_return,
    votes_count,
    votes_store,
)

from .models import CrowdAssignment, CrowdHIT, CrowdPublication

DIGEST_LENGTH = 32


@transaction.atomic
def crowd_worker_get_or_create(*, username: str) -> AbstractBaseUser:
    """The account standing for a platform worker (``mturk:<WorkerId>``,
    ``panel<id>:<participant>``); it has no usable password, so nobody can log in as it. It is
    *not* an annotator: such a worker labels only through their crowd's own flow (the panel's
    quota and payments, MTurk's pending votes), never through /label/ or the worker API."""
    user, created = get_user_model().objects.get_or_create(username=username[:150])
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    return user


def answer_digest(*, external_assignment_id: str, worker_id: str, selected: Iterable[int],
                  unselected: Iterable[int]) -> str:  # fmt: skip
    """HMAC of an answer, posted to MTurk with the form and compared at sync: the platform's
    copy of the answer must be the one we stored."""
    message = "|".join(
        [
            external_assignment_id,
            worker_id,
            ",".join(map(str, sorted(selected))),
            ",".join(map(str, sorted(unselected))),
        ]
    )
    key = f"crowds.answer:{settings.SECRET_KEY}".encode()
    return hmac.new(key, message.encode(), hashlib.sha256).hexdigest()[:DIGEST_LENGTH]


@transaction.atomic
def mturk_assignment_open(
    *, hit: CrowdHIT, external_assignment_id: str, worker_id: str, submit_origin: str
) -> CrowdAssignment | None:
    """The crowd assignment for an accepted MTurk assignment, leasing images through the
    scheduler on first visit (and again if the lease ran out before submission).

    Returns None when the scheduler has nothing for this worker. Raises ``InvalidItems`` when
    the assignment id is already bound to another worker id, ``HitUnavailable`` when the HIT is
    no longer open or all its slots are taken.

    Nothing here proves the visitor came from MTurk (the ids arrive in the URL), so a visit
    leases images only as MTurk itself could: for an open HIT of ours, and for no more distinct
    live assignments than the HIT has slots (MaxAssignments). Forged ids thus hold at most what
    the real crowd could, and only for the normal lease.
    """
    _hit_check_open(hit)
    existing = (
        CrowdAssignment.objects.select_for_update()
        .select_related("assignment")
        .filter(
            backend=CrowdAssignment.Backend.MTURK, external_assignment_id=external_assignment_id
        )
        .first()
    )
    if existing is not None:
        if existing.external_worker_id != worker_id or existing.hit_id != hit.pk:
            raise InvalidItems("this assignment belongs to another worker")
        if existing.assignment.status != Assignment.Status.EXPIRED and not (
            existing.assignment.status == Assignment.Status.LEASED
            and existing.assignment.lease_expires_at <= timezone.now()
        ):
            return existing
    _hit_slots_lock(hit)
    if _hit_live_assignments(hit=hit, exclude=existing) >= hit.max_assignments:
        raise HitUnavailable("All of this HIT's assignments are taken. Please return it.")
    worker = crowd_worker_get_or_create(username=f"mturk:{worker_id}")
    held = CrowdAssignment.objects.filter(
        assignment__worker=worker, assignment__status=Assignment.Status.LEASED
    ).values_list("assignment_id", flat=True)
    assignment = hit_next_for_worker(project=hit.project, worker=worker, exclude=list(held))
    if assignment is None:
        return None
    if existing is not None:
        existing.assignment = assignment
        existing.save(update_fields=["assignment", "updated_at"])
        return existing
    return CrowdAssignment.objects.create(
        backend=CrowdAssignment.Backend.MTURK,
        assignment=assignment,
        hit=hit,
        external_assignment_id=external_assignment_id,
        external_worker_id=worker_id,
        submit_origin=submit_origin,
    )


class HitUnavailable(SubmissionError):
    code = "hit_unavailable"


def _hit_check_open(hit: CrowdHIT) -> None:
    """The HIT must be one of our open publications' open HITs, for an active project."""
    publication = hit.publication
    if (
        hit.status != CrowdHIT.Status.OPEN
        or publication.status != CrowdPublication.Status.OPEN
        or (hit.expires_at is not None and hit.expires_at <= timezone.now())
        or not hit.project.active
    ):
        raise HitUnavailable("This HIT is closed. Please return it.")


def _hit_slots_lock(hit: CrowdHIT) -> None:
    """Serialise the opening of new assignments of one HIT (a transaction-scoped advisory lock:
    no row lock, so nothing else's lock order changes). SQLite serialises writers anyway."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [HIT_SLOTS_LOCK, hit.pk])


# Advisory lock namespace of _hit_slots_lock.
HIT_SLOTS_LOCK = 0x5EC0


def _hit_live_assignments(*, hit: CrowdHIT, exclude: CrowdAssignment | None) -> int:
    """Assignments of this HIT that hold or held a slot: submitted or confirmed, or accepted
    with a live lease. Expired, mismatched and unconfirmed ones free their slot (MTurk reissues
    a returned assignment under a new id)."""
    live = CrowdAssignment.objects.filter(hit=hit).filter(
        Q(state__in=[CrowdAssignment.State.SUBMITTED, CrowdAssignment.State.CONFIRMED])
        | Q(
            state=CrowdAssignment.State.ACCEPTED,
            assignment__status=Assignment.Status.LEASED,
            assignment__lease_expires_at__gt=timezone.now(),
        )
    )
    if exclude is not None:
        live = live.exclude(pk=exclude.pk)
    return live.count()


# Stored on the assignment at submission: whether its images' leases were still held then (a
# lease that ran out before the worker submitted was already returned by lease expiry).
LEASE_HELD_KEY = "_lease_held"


@transaction.atomic
def crowd_assignment_submit(
    *, crowd_assignment_id: int, selected: list[int], unselected: list[int], duration_ms: int
) -> CrowdAssignment:
    """Store an MTurk worker's answers as pending votes (see the module docstring).

    Idempotent: a replay with the same answers returns the stored record and creates nothing; a
    replay with other answers raises ``AlreadySubmittedDifferently``. Lock order as in
    ``labeling.locks``: this record, then the assignment.
    """
    crowd = CrowdAssignment.objects.select_for_update().get(pk=crowd_assignment_id)
    assignment = assignment_lock(Assignment.objects.filter(pk=crowd.assignment_id))
    answers = answers_key(selected=selected, unselected=unselected)
    if assignment.status == Assignment.Status.SUBMITTED:
        if (assignment.result or {}).get("_answers") != answers:
            raise AlreadySubmittedDifferently("this assignment was already submitted")
        return crowd
    item_ids = set(
        AssignmentItem.objects.filter(assignment=assignment).values_list("item_id", flat=True)
    )
    selected_set, unselected_set = answers_split(
        item_ids=item_ids, selected=selected, unselected=unselected
    )
    votes_store(
        assignment=assignment,
        labels={pk: pk in selected_set for pk in item_ids},
        status=Vote.Status.PENDING,
    )
    now = timezone.now()
    if assignment.status == Assignment.Status.LEASED:
        # Pending votes hold no images: the leases go back now, not when MTurk confirms (up to
        # CROWDS_PENDING_TIMEOUT_SECONDS later), so a forged submission cannot keep images from
        # the real crowd. Confirmation may then find an image over-voted: the extra votes are
        # kept as evidence (labeling.votes.votes_count).
        labeled = set(
            AssignmentItem.objects.filter(assignment=assignment, is_gold=False).values_list(
                "item_id", flat=True
            )
        )
        item_keys_lock(labeled)
        leases_return(labeled)
    assignment.status = Assignment.Status.SUBMITTED
    assignment.submitted_at = now
    assignment.duration_ms = max(0, int(duration_ms))
    assignment.result = {"pending": True, "_answers": answers, LEASE_HELD_KEY: False}
    assignment.save(
        update_fields=["status", "submitted_at", "duration_ms", "result", "updated_at"]
    )
    crowd.state = CrowdAssignment.State.SUBMITTED
    crowd.submitted_at = now
    crowd.answer_digest = answer_digest(
        external_assignment_id=crowd.external_assignment_id,
        worker_id=crowd.external_worker_id,
        selected=selected_set,
        unselected=unselected_set,
    )
    crowd.save(update_fields=["state", "submitted_at", "answer_digest", "updated_at"])
    return crowd


def _lease_held(assignment: Assignment) -> bool:
    # Records stored before the flag existed were all submitted while leased.
    return bool((assignment.result or {}).get(LEASE_HELD_KEY, True))


@transaction.atomic
def crowd_assignment_confirm(*, crowd_assignment_id: int) -> CrowdAssignment:
    """The platform vouched for this assignment: its pending votes now count.

    Counted by the same vote core as a built-in submission (``labeling.votes.votes_count``):
    counters, leases (only if still held), gold score, flags, the synset's recompute — with the
    lock order of ``labeling.locks``. Idempotent: only a ``submitted`` record changes.
    """
    crowd = CrowdAssignment.objects.select_for_update().get(pk=crowd_assignment_id)
    if crowd.state != CrowdAssignment.State.SUBMITTED:
        return crowd
    assignment = assignment_lock(
        Assignment.objects.select_related("project", "worker").filter(pk=crowd.assignment_id)
    )
    project = assignment.project
    profile = worker_profile_lock(worker=assignment.worker)
    entries = dict(
        AssignmentItem.objects.filter(assignment=assignment).values_list("item_id", "is_gold")
    )
    items = items_lock(entries, fields=("pk", "is_gold", "gold_label", "state", "votes_needed"))
    pending = Vote.objects.filter(assignment=assignment, status=Vote.Status.PENDING)
    labels = dict(pending.values_list("item_id", "label"))
    counted = not profile.blocked
    pending.update(status=Vote.Status.CONFIRMED if counted else Vote.Status.EXCLUDED)
    tally = votes_count(
        assignment=assignment,
        project=project,
        profile=profile,
        items=items,
        gold_ids=gold_ids_of(entries=entries, items=items),
        labels=labels,
        counted=counted,
        lease_held=_lease_held(assignment),
        duration_ms=assignment.duration_ms or 0,
    )
    assignment.reward_cents = _reward_cents(crowd=crowd, project=project) if counted else 0
    assignment.result = {
        **(assignment.result or {}), "pending": False, "counted": counted, LEASE_HELD_KEY: False,
        "_extra_votes": tally.extra_votes,
    }  # fmt: skip
    assignment.save(update_fields=["reward_cents", "result", "updated_at"])
    crowd.state = CrowdAssignment.State.CONFIRMED
    crowd.confirmed_at = timezone.now()
    crowd.gold_correct = tally.gold_correct
    crowd.gold_total = tally.gold_total
    crowd.save(
        update_fields=["state", "confirmed_at", "gold_correct", "gold_total", "updated_at"]
    )
    return crowd


@transaction.atomic
def crowd_assignment_discard(*, crowd_assignment_id: int, state: str) -> CrowdAssignment:
    """The platform contradicts (``mismatch``) or never confirmed (``unconfirmed``) this
    assignment: its pending votes are excluded for good and its images' leases, if still held,
    return to the pool."""
    crowd = CrowdAssignment.objects.select_for_update().get(pk=crowd_assignment_id)
    if crowd.state not in {CrowdAssignment.State.SUBMITTED, CrowdAssignment.State.ACCEPTED}:
        return crowd
    assignment = assignment_lock(Assignment.objects.filter(pk=crowd.assignment_id))
    if assignment.status == Assignment.Status.SUBMITTED:
        labeled = set(
            AssignmentItem.objects.filter(assignment=assignment, is_gold=False).values_list(
                "item_id", flat=True
            )
        )
        Vote.objects.filter(assignment=assignment, status=Vote.Status.PENDING).update(
            status=Vote.Status.EXCLUDED
        )
        if _lease_held(assignment):
            item_keys_lock(labeled)
            leases_return(labeled)
            assignment.result = {**(assignment.result or {}), LEASE_HELD_KEY: False}
            assignment.save(update_fields=["result", "updated_at"])
    crowd.state = state
    crowd.save(update_fields=["state", "updated_at"])
    return crowd


def _reward_cents(*, crowd: CrowdAssignment, project: Project) -> int:
    if crowd.hit_id:
        return crowd.hit.reward_cents
    if crowd.participant_id:
        return crowd.participant.panel.reward_cents_per_hit
    return project.reward_cents_per_hit


def crowd_worker_accounts_expire(*, discarded_before) -> int:
    """Delete the accounts of MTurk worker ids that MTurk never vouched for: every crowd
    assignment of theirs ended unconfirmed or mismatched before ``discarded_before`` (the
    records stay that long for review), none is live or confirmed. A forged ``workerId`` thus
    leaves no account behind (its pending votes were excluded, its leases returned). Returns the
    number of accounts deleted."""
    vouched_or_live = CrowdAssignment.objects.filter(
        assignment__worker=OuterRef("pk")
    ).exclude(
        state__in=[CrowdAssignment.State.UNCONFIRMED, CrowdAssignment.State.MISMATCH]
    )  # fmt: skip
    recent = CrowdAssignment.objects.filter(
        assignment__worker=OuterRef("pk"), updated_at__gte=discarded_before
    )
    stale = (
        get_user_model()
        .objects.filter(username__startswith="mturk:")
        .exclude(Exists(vouched_or_live))
        .exclude(Exists(recent))
        .exclude(labeling_votes__status=Vote.Status.CONFIRMED)
        .values_list("pk", flat=True)
    )
    deleted = 0
    for pk in list(stale):
        with transaction.atomic():
            _, counts = get_user_model().objects.filter(pk=pk).delete()
            deleted += counts.get(get_user_model()._meta.label, 0)
    return deleted

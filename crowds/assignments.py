"""Crowd workers' assignments: worker accounts per platform id, HITs leased through the regular
scheduler, and submissions whose votes stay *pending* until the platform confirms them.

Why pending: an ExternalQuestion's ``workerId`` arrives in the URL and can be forged (product.md
§1.5). Until ListAssignmentsForHIT shows the same assignment, worker and answer, the votes do not
count, do not move the images' counters and do not touch the named worker's gold record (a forger
could otherwise get a real worker blocked). Their images stay leased meanwhile, so the scheduler
does not over-collect votes for them.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from functools import partial

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, Group
from django.db import IntegrityError, transaction
from django.db.models import F
from django.db.models.functions import Greatest
from django.utils import timezone

from labeling.hits.scheduler import hit_next_for_worker
from labeling.hits.submission import (
    AlreadySubmittedDifferently,
    InvalidItems,
    recompute_synset_later_on_commit,
)
from labeling.models import Assignment, AssignmentItem, Item, Project, ProjectSynset, Vote
from labeling.quality import flags_record, gold_score, worker_profile_get
from labeling.roles import ANNOTATORS_GROUP

from .models import CrowdAssignment, CrowdHIT

DIGEST_LENGTH = 32


@transaction.atomic
def crowd_worker_get_or_create(*, username: str) -> AbstractBaseUser:
    """The annotator account standing for a platform worker (``mturk:<WorkerId>``,
    ``panel<id>:<participant>``); it has no usable password, so nobody can log in as it."""
    user, created = get_user_model().objects.get_or_create(username=username[:150])
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
        group, _ = Group.objects.get_or_create(name=ANNOTATORS_GROUP)
        user.groups.add(group)
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
    the assignment id is already bound to another worker id.
    """
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


@transaction.atomic
def crowd_assignment_submit(
    *, crowd_assignment_id: int, selected: list[int], unselected: list[int], duration_ms: int
) -> CrowdAssignment:
    """Store an MTurk worker's answers as pending votes (see the module docstring).

    Idempotent: a replay with the same answers returns the stored record and creates nothing; a
    replay with other answers raises ``AlreadySubmittedDifferently``.
    """
    crowd = CrowdAssignment.objects.select_for_update().get(pk=crowd_assignment_id)
    assignment = Assignment.objects.select_for_update().get(pk=crowd.assignment_id)
    answers = {"selected": sorted(set(selected)), "unselected": sorted(set(unselected))}
    if assignment.status == Assignment.Status.SUBMITTED:
        if (assignment.result or {}).get("_answers") != answers:
            raise AlreadySubmittedDifferently("this assignment was already submitted")
        return crowd
    item_ids = set(
        AssignmentItem.objects.filter(assignment=assignment).values_list("item_id", flat=True)
    )
    selected_set, unselected_set = set(selected), set(unselected)
    if (
        len(selected) != len(selected_set)
        or len(unselected) != len(unselected_set)
        or selected_set & unselected_set
        or (selected_set | unselected_set) != item_ids
    ):
        raise InvalidItems("selected and unselected must split exactly this HIT's images")
    try:
        with transaction.atomic():
            Vote.objects.bulk_create(
                [
                    Vote(
                        item_id=pk,
                        worker_id=assignment.worker_id,
                        assignment=assignment,
                        label=pk in selected_set,
                        status=Vote.Status.PENDING,
                    )
                    for pk in sorted(item_ids)
                ]
            )
    except IntegrityError:
        raise InvalidItems("an image of this HIT already has a vote from this worker") from None
    now = timezone.now()
    assignment.status = Assignment.Status.SUBMITTED
    assignment.submitted_at = now
    assignment.duration_ms = max(0, int(duration_ms))
    assignment.result = {"pending": True, "_answers": answers}
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


@transaction.atomic
def crowd_assignment_confirm(*, crowd_assignment_id: int) -> CrowdAssignment:
    """The platform vouched for this assignment: its pending votes now count.

    Does what a built-in submission does at once — counters, leases, gold score, flags, the
    synset's recompute — with the same lock order (assignment, worker profile, items by key).
    Idempotent: only a ``submitted`` record changes.
    """
    crowd = CrowdAssignment.objects.select_for_update().get(pk=crowd_assignment_id)
    if crowd.state != CrowdAssignment.State.SUBMITTED:
        return crowd
    assignment = (
        Assignment.objects.select_for_update(of=("self",)).select_related("project", "worker")
        .get(pk=crowd.assignment_id)
    )  # fmt: skip
    project = assignment.project
    profile = worker_profile_get(worker=assignment.worker, lock=True)
    entries = dict(
        AssignmentItem.objects.filter(assignment=assignment).values_list("item_id", "is_gold")
    )
    items = {
        item.pk: item
        for item in Item.objects.select_for_update(no_key=True)
        .filter(pk__in=sorted(entries))
        .order_by("pk")
        .only("pk", "is_gold", "gold_label")
    }
    labels = dict(
        Vote.objects.filter(assignment=assignment, status=Vote.Status.PENDING).values_list(
            "item_id", "label"
        )
    )
    gold_ids = {pk for pk, is_gold in entries.items() if is_gold and items[pk].is_gold}
    labeled_ids = set(entries) - gold_ids
    counted = not profile.blocked
    Vote.objects.filter(assignment=assignment, status=Vote.Status.PENDING).update(
        status=Vote.Status.CONFIRMED if counted else Vote.Status.EXCLUDED
    )
    yes_ids = {pk for pk, label in labels.items() if label}
    no_ids = set(labels) - yes_ids
    if counted:
        for ids, counter in ((yes_ids, "yes_votes"), (no_ids, "no_votes")):
            open_ids = sorted(ids & labeled_ids)
            if open_ids:
                Item.objects.filter(pk__in=open_ids).update(
                    **{counter: F(counter) + 1},
                    votes_needed=Greatest(F("votes_needed") - 1, 0),
                    active_leases=Greatest(F("active_leases") - 1, 0),
                )
            gold_label_ids = sorted(ids & gold_ids)
            if gold_label_ids:
                Item.objects.filter(pk__in=gold_label_ids).update(**{counter: F(counter) + 1})
    else:
        _leases_return(labeled_ids)
    gold_correct = sum(1 for pk in gold_ids if labels.get(pk) == bool(items[pk].gold_label))
    flags_record(
        profile=profile,
        assignment=assignment,
        labels=[labels[pk] for pk in sorted(labels)],
        duration_ms=assignment.duration_ms or 0,
    )
    gold_score(profile=profile, project=project, correct=gold_correct, total=len(gold_ids))
    assignment.reward_cents = _reward_cents(crowd=crowd, project=project) if counted else 0
    assignment.result = {**(assignment.result or {}), "pending": False, "counted": counted}
    assignment.save(update_fields=["reward_cents", "result", "updated_at"])
    crowd.state = CrowdAssignment.State.CONFIRMED
    crowd.confirmed_at = timezone.now()
    crowd.gold_correct = gold_correct
    crowd.gold_total = len(gold_ids)
    crowd.save(
        update_fields=["state", "confirmed_at", "gold_correct", "gold_total", "updated_at"]
    )
    _recompute_later(project=project, synset_id=assignment.synset_id)
    return crowd


@transaction.atomic
def crowd_assignment_discard(*, crowd_assignment_id: int, state: str) -> CrowdAssignment:
    """The platform contradicts (``mismatch``) or never confirmed (``unconfirmed``) this
    assignment: its pending votes are excluded for good and its images return to the pool."""
    crowd = CrowdAssignment.objects.select_for_update().get(pk=crowd_assignment_id)
    if crowd.state not in {CrowdAssignment.State.SUBMITTED, CrowdAssignment.State.ACCEPTED}:
        return crowd
    assignment = Assignment.objects.select_for_update().get(pk=crowd.assignment_id)
    if assignment.status == Assignment.Status.SUBMITTED:
        labeled = set(
            AssignmentItem.objects.filter(assignment=assignment, is_gold=False).values_list(
                "item_id", flat=True
            )
        )
        Vote.objects.filter(assignment=assignment, status=Vote.Status.PENDING).update(
            status=Vote.Status.EXCLUDED
        )
        _leases_return(labeled)
    crowd.state = state
    crowd.save(update_fields=["state", "updated_at"])
    return crowd


def _leases_return(item_ids: set[int]) -> None:
    if item_ids:
        Item.objects.filter(pk__in=sorted(item_ids)).update(
            active_leases=Greatest(F("active_leases") - 1, 0)
        )


def _reward_cents(*, crowd: CrowdAssignment, project: Project) -> int:
    if crowd.hit_id:
        return crowd.hit.reward_cents
    if crowd.participant_id:
        return crowd.participant.panel.reward_cents_per_hit
    return project.reward_cents_per_hit


def _recompute_later(*, project: Project, synset_id: str) -> None:
    project_synset_id = (
        ProjectSynset.objects.filter(project=project, synset_id=synset_id)
        .values_list("pk", flat=True)
        .first()
    )
    if project_synset_id is not None:
        transaction.on_commit(partial(recompute_synset_later_on_commit, project_synset_id))

"""Submitting a HIT: one POST per assignment records one vote per image, scores the gold images,
flags suspicious answering and schedules the synset's consensus recompute (product.md §1.3)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from functools import partial

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import F
from django.db.models.functions import Greatest
from django.utils import timezone

from labeling.models import Assignment, AssignmentItem, Item, ProjectSynset, Vote
from labeling.quality import flags_record, gold_score, worker_profile_get


class SubmissionError(Exception):
    """A submission that cannot be accepted; ``code`` is stable for API clients."""

    code = "invalid"

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class AssignmentNotFound(SubmissionError):
    code = "not_found"


class InvalidItems(SubmissionError):
    code = "invalid_items"


class LeaseExpired(SubmissionError):
    code = "lease_expired"


class AlreadySubmittedDifferently(SubmissionError):
    code = "already_submitted"


class ProjectClosed(SubmissionError):
    code = "project_closed"


@dataclass(frozen=True)
class SubmitResult:
    """What the worker sees after a submission; stored on the assignment and replayed as is."""

    assignment_id: int
    votes_recorded: int
    reward_cents: int
    counted: bool
    flags: list[str] = field(default_factory=list)
    blocked: bool = False

    def as_dict(self) -> dict:
        return asdict(self)


def recompute_synset_later_on_commit(project_synset_id: int) -> None:
    """Run after commit: a broker outage must never fail a submission that is already stored
    (the needs_recompute flag lets the periodic sweep catch up)."""
    from labeling.tasks import recompute_synset_later

    recompute_synset_later(project_synset_id)


@transaction.atomic
def assignment_submit(
    *,
    assignment_id: int,
    worker: AbstractBaseUser,
    selected: list[int],
    unselected: list[int],
    duration_ms: int,
) -> SubmitResult:
    """Record the worker's answers for every image of an assignment.

    Idempotent: a re-post of a submitted assignment returns the stored result and adds nothing
    (a re-post with different answers is refused). ``selected`` and ``unselected`` must together
    be exactly the assignment's images. A lease that expired is still accepted while any of its
    images needs votes, since the worker's effort is real; otherwise it is refused.
    """
    assignment = (
        # of=self: FOR UPDATE on the joined project row would queue every submission of the
        # project behind one another and deadlock with next-HIT's assignment inserts.
        Assignment.objects.select_for_update(of=("self",))
        .select_related("project")
        .filter(pk=assignment_id, worker=worker)
        .first()
    )
    if assignment is None:
        raise AssignmentNotFound("no such assignment for this worker")
    selected_set, unselected_set = set(selected), set(unselected)
    if assignment.status == Assignment.Status.SUBMITTED:
        stored = assignment.result or {}
        if stored.get("_answers") != {"selected": sorted(selected_set),
                                      "unselected": sorted(unselected_set)}:  # fmt: skip
            raise AlreadySubmittedDifferently("this assignment was already submitted")
        return _result_from_stored(stored)
    if not assignment.project.active:
        raise ProjectClosed("this project was closed; its images take no more votes")

    entries = list(
        AssignmentItem.objects.filter(assignment=assignment).values_list("item_id", "is_gold")
    )
    item_ids = {item_id for item_id, _ in entries}
    if (
        len(selected) != len(selected_set)
        or len(unselected) != len(unselected_set)
        or selected_set & unselected_set
        or (selected_set | unselected_set) != item_ids
    ):
        raise InvalidItems("selected and unselected must split exactly this HIT's images")

    project = assignment.project
    now = timezone.now()
    expired = assignment.status == Assignment.Status.EXPIRED or assignment.lease_expires_at <= now
    # Lock order everywhere: assignment, then worker profile, then items by primary key.
    profile = worker_profile_get(worker=worker, lock=True)
    items = {
        item.pk: item
        # no_key: only counters change, so inserts referencing these items (AssignmentItem,
        # Vote) are not blocked — a FOR UPDATE here deadlocked with next-HIT under load.
        for item in Item.objects.select_for_update(no_key=True)
        .filter(pk__in=sorted(item_ids))
        .order_by("pk")
        .only("pk", "is_gold", "gold_label", "votes_needed", "state", "synset_id")
    }
    gold_ids = {item_id for item_id, is_gold in entries if is_gold and items[item_id].is_gold}
    labeled_ids = item_ids - gold_ids
    if expired and not any(
        items[pk].votes_needed > 0 and items[pk].state == Item.State.PENDING for pk in labeled_ids
    ):
        raise LeaseExpired(
            "this HIT was open too long and its images were given to other people meanwhile"
        )

    counted = not profile.blocked
    vote_status = Vote.Status.CONFIRMED if counted else Vote.Status.EXCLUDED
    try:
        with transaction.atomic():
            Vote.objects.bulk_create(
                [
                    Vote(
                        item_id=pk,
                        worker=worker,
                        assignment=assignment,
                        label=pk in selected_set,
                        status=vote_status,
                    )
                    for pk in sorted(item_ids)
                ]
            )
    except IntegrityError:
        # The scheduler never shows an image twice; this is the database's last word on it.
        raise InvalidItems(
            "you have already answered one of these images, so this HIT cannot be saved"
        ) from None

    # Leases still held (not released by leases_expire) are returned now.
    held = assignment.status == Assignment.Status.LEASED
    if counted:
        for label_ids, counter in ((selected_set, "yes_votes"), (unselected_set, "no_votes")):
            fields = {counter: F(counter) + 1}
            open_ids = sorted(label_ids & labeled_ids)
            if open_ids:
                fields_open = {**fields, "votes_needed": Greatest(F("votes_needed") - 1, 0)}
                if held:
                    fields_open["active_leases"] = Greatest(F("active_leases") - 1, 0)
                Item.objects.filter(pk__in=open_ids).update(**fields_open)
            gold_label_ids = sorted(label_ids & gold_ids)
            if gold_label_ids:
                Item.objects.filter(pk__in=gold_label_ids).update(**fields)
    elif held and labeled_ids:
        Item.objects.filter(pk__in=sorted(labeled_ids)).update(
            active_leases=Greatest(F("active_leases") - 1, 0)
        )

    gold_correct = sum(
        1 for pk in gold_ids if (pk in selected_set) == bool(items[pk].gold_label)
    )
    labels_in_order = [pk in selected_set for pk in sorted(item_ids)]
    raised = flags_record(
        profile=profile, assignment=assignment, labels=labels_in_order, duration_ms=duration_ms
    )
    was_blocked = profile.blocked
    profile = gold_score(
        profile=profile, project=project, correct=gold_correct, total=len(gold_ids)
    )

    result = SubmitResult(
        assignment_id=assignment.pk,
        votes_recorded=len(item_ids),
        reward_cents=project.reward_cents_per_hit if counted else 0,
        counted=counted and not (profile.blocked and not was_blocked),
        flags=raised,
        blocked=profile.blocked,
    )
    assignment.status = Assignment.Status.SUBMITTED
    assignment.submitted_at = now
    assignment.duration_ms = max(0, int(duration_ms))
    assignment.reward_cents = result.reward_cents
    assignment.result = {
        **result.as_dict(),
        "_answers": {"selected": sorted(selected_set), "unselected": sorted(unselected_set)},
    }
    assignment.save(
        update_fields=[
            "status", "submitted_at", "duration_ms", "reward_cents", "result", "updated_at",
        ]
    )  # fmt: skip

    project_synset_id = (
        ProjectSynset.objects.filter(project=project, synset_id=assignment.synset_id)
        .values_list("pk", flat=True)
        .first()
    )
    if project_synset_id is not None:
        transaction.on_commit(partial(recompute_synset_later_on_commit, project_synset_id))
    return result


def _result_from_stored(stored: dict) -> SubmitResult:
    return SubmitResult(**{k: v for k, v in stored.items() if not k.startswith("_")})

"""Submitting a HIT of the built-in grid or a panel: one POST per assignment records one vote per
image through the vote core (``labeling.votes``), which scores the gold images, flags suspicious
answering and announces the synset's recompute (Deng et al. 2009 §3.2; docs/architecture.md)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import IntegerField, OuterRef, Subquery
from django.db.models.expressions import RawSQL
from django.utils import timezone

from labeling.leases import assignment_submitted
from labeling.locks import assignment_items_lock, assignment_lock, worker_profile_lock
from labeling.models import Assignment, Item, ProjectSynset, Vote
from labeling.permissions import can_label, label_access
from labeling.votes import (  # noqa: F401 (the errors are this module's API too)
    AlreadySubmittedDifferently,
    AssignmentNotFound,
    InvalidItems,
    LeaseExpired,
    ProjectClosed,
    SubmissionError,
    answers_key,
    answers_split,
    gold_ids_of,
    votes_count,
    votes_store,
)


class NotALabeler(SubmissionError):
    """The worker may no longer label the assignment's project (``permissions.can_label``)."""

    code = "not_a_labeler"


@dataclass(frozen=True)
class SubmitResult:
    """What the worker sees after a submission; stored on the assignment and replayed as is,
    except the worker's running totals, which are read afresh on a replay."""

    assignment_id: int
    votes_recorded: int
    reward_cents: int
    counted: bool
    flags: list[str] = field(default_factory=list)
    blocked: bool = False
    # The worker's HITs submitted and earnings over every project, this one included: the
    # grid page shows them after each HIT without asking for its stats again.
    hits_submitted: int = 0
    earnings_cents: int = 0

    def as_dict(self) -> dict:
        return asdict(self)

    def stored(self) -> dict:
        return {k: v for k, v in self.as_dict().items() if k not in _TOTALS}


_TOTALS = ("hits_submitted", "earnings_cents")


def _other_submitted(total: str) -> RawSQL:
    """One total (``COUNT(*)``, ``SUM(reward_cents)``) over the worker's submitted assignments
    other than the one being locked, as a scalar subquery of the statement that locks it (index
    ``assignment_by_worker_status``). Written out: as ORM subqueries the two totals cost more
    to compile than the statement takes to run."""
    table = Assignment._meta.db_table
    return RawSQL(  # noqa: S611 - this module's constants; the status is a parameter
        f"SELECT COALESCE({total}, 0) FROM {table} AS other "  # noqa: S608 - constants only
        f"WHERE other.worker_id = {table}.worker_id AND other.status = %s "
        f"AND other.id <> {table}.id",
        (Assignment.Status.SUBMITTED,),
        output_field=IntegerField(),
    )


@transaction.atomic
def assignment_submit(
    *,
    assignment_id: int,
    worker: AbstractBaseUser,
    selected: list[int],
    unselected: list[int],
    duration_ms: int,
    labeler_check: bool = False,
) -> SubmitResult:
    """Record the worker's answers for every image of an assignment.

    ``labeler_check``: refuse (``NotALabeler``) unless the worker may label the assignment's
    project, asked in the statement that locks the assignment (the worker API's check).

    Idempotent: a re-post of a submitted assignment returns the stored result and adds nothing
    (a re-post with different answers is refused). ``selected`` and ``unselected`` must together
    be exactly the assignment's images. A lease that expired is still accepted while any of its
    images needs votes, since the worker's effort is real; otherwise it is refused.
    """
    assignments = (
        Assignment.objects.select_related("project")
        .filter(pk=assignment_id, worker=worker)
        # The synset's consensus row, named in the recompute announced after the commit: read
        # here rather than by a statement of its own.
        .annotate(
            project_synset_id=Subquery(
                ProjectSynset.objects.filter(
                    project_id=OuterRef("project_id"), synset_id=OuterRef("synset_id")
                ).values("pk")[:1]
            ),
            worker_hits_before=_other_submitted("COUNT(*)"),
            worker_cents_before=_other_submitted("SUM(other.reward_cents)"),
        )
    )
    if labeler_check:
        assignments = assignments.annotate(**label_access(worker, project="project_id"))
    assignment = assignment_lock(assignments)
    if assignment is None:
        raise AssignmentNotFound("no such assignment for this worker")
    if labeler_check and not can_label(
        worker, assignment.project, access=(assignment.label_owner, assignment.label_member)
    ):
        raise NotALabeler("you are not an annotator of this project")
    answers = answers_key(selected=selected, unselected=unselected)
    if assignment.status == Assignment.Status.SUBMITTED:
        stored = assignment.result or {}
        if stored.get("_answers") != answers:
            raise AlreadySubmittedDifferently("this assignment was already submitted")
        return _result_from_stored(stored, assignment)
    if not assignment.project.active:
        raise ProjectClosed("this project was closed; its images take no more votes")

    project = assignment.project
    now = timezone.now()
    expired = assignment.status == Assignment.Status.EXPIRED or assignment.lease_expires_at <= now
    profile = worker_profile_lock(worker=worker)
    # The HIT's images, locked, with their places in it (one statement). The answers are
    # checked against them only now: a refused split rolls the locks back with the rest.
    items = assignment_items_lock(
        assignment.pk, fields=("pk", "is_gold", "gold_label", "votes_needed", "state", "synset_id")
    )
    entries = {pk: item.placed_gold for pk, item in items.items()}
    selected_set, _ = answers_split(item_ids=set(entries), selected=selected, unselected=unselected)
    gold_ids = gold_ids_of(entries=entries, items=items)
    if expired and not any(
        items[pk].votes_needed > 0 and items[pk].state == Item.State.PENDING
        for pk in set(entries) - gold_ids
    ):
        raise LeaseExpired(
            "this HIT was open too long and its images were given to other people meanwhile"
        )

    counted = not profile.blocked
    labels = {pk: pk in selected_set for pk in entries}
    votes_store(
        assignment=assignment,
        labels=labels,
        status=Vote.Status.CONFIRMED if counted else Vote.Status.EXCLUDED,
    )
    tally = votes_count(
        assignment=assignment,
        project=project,
        profile=profile,
        items=items,
        gold_ids=gold_ids,
        labels=labels,
        counted=counted,
        # Leases still held (not released by leases_expire or a release) are returned now.
        lease_held=assignment.status == Assignment.Status.LEASED,
        duration_ms=duration_ms,
        project_synset_id=assignment.project_synset_id,
    )

    reward_cents = project.reward_cents_per_hit if counted else 0
    result = SubmitResult(
        assignment_id=assignment.pk,
        votes_recorded=len(entries),
        reward_cents=reward_cents,
        counted=counted and not tally.newly_blocked,
        flags=tally.flags,
        blocked=tally.blocked,
        hits_submitted=assignment.worker_hits_before + 1,
        earnings_cents=assignment.worker_cents_before + reward_cents,
    )
    assignment_submitted(
        assignment,
        now=now,
        duration_ms=duration_ms,
        reward_cents=result.reward_cents,
        # Votes on images that no longer needed them (a late submission) are kept, and said so.
        result={**result.stored(), "_answers": answers, "_extra_votes": tally.extra_votes},
    )
    return result


def _result_from_stored(stored: dict, assignment: Assignment) -> SubmitResult:
    kept = {k: v for k, v in stored.items() if not k.startswith("_") and k not in _TOTALS}
    return SubmitResult(
        **kept,
        hits_submitted=assignment.worker_hits_before + 1,
        earnings_cents=assignment.worker_cents_before + assignment.reward_cents,
    )

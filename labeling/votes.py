"""The one place where a HIT's answers become votes, and votes become counts.

Every way of submitting a HIT goes through here: the built-in grid and panels
(``labeling.hits.submission.assignment_submit``) at once, MTurk in two steps — its votes are stored
*pending* when the worker submits (``crowds.assignments.crowd_assignment_submit``) and counted when
the platform confirms the assignment (``crowd_assignment_confirm``) or thrown out when it does not
(``crowd_assignment_discard``). So the answer split is validated, votes are stored, counters and
leases move, gold answers are scored, flags are raised and the recompute is announced the same way
whichever crowd the worker came from.

Call these inside the caller's transaction, holding the locks of ``labeling.locks`` in its order
(assignment, worker profile, items by primary key).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.db.models.functions import Greatest

from config.errors import CodedError

from .models import Assignment, Item, Project, Vote, WorkerProfile
from .quality import flags_record, gold_score
from .rows import rows_insert
from .signals import synset_votes_changed_on_commit


class SubmissionError(CodedError):
    """A submission that cannot be accepted; ``code`` is stable for API clients."""

    code = "invalid"


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


def answers_key(*, selected: Iterable[int], unselected: Iterable[int]) -> dict[str, list[int]]:
    """The answers as stored on the assignment (``result["_answers"]``), to recognise a replay."""
    return {"selected": sorted(set(selected)), "unselected": sorted(set(unselected))}


def answers_split(
    *, item_ids: set[int], selected: list[int], unselected: list[int]
) -> tuple[set[int], set[int]]:
    """Check that ``selected`` and ``unselected`` split exactly this HIT's images, each once."""
    selected_set, unselected_set = set(selected), set(unselected)
    if (
        len(selected) != len(selected_set)
        or len(unselected) != len(unselected_set)
        or selected_set & unselected_set
        or (selected_set | unselected_set) != item_ids
    ):
        raise InvalidItems("selected and unselected must split exactly this HIT's images")
    return selected_set, unselected_set


def votes_store(*, assignment: Assignment, labels: dict[int, bool], status: str) -> None:
    """One vote per image of the HIT. The scheduler never shows an image twice to a worker; the
    unique (item, worker) constraint is the database's last word on it.

    A refusal (``InvalidItems``) leaves the transaction unusable until the caller's atomic block
    rolls back, which every caller's does as the error passes through it: no savepoint (two
    round trips on every submission) is set for a rollback nobody continues after."""
    try:
        with transaction.atomic(savepoint=False):
            rows_insert(
                Vote,
                ("item", "worker", "assignment", "label", "status"),
                [
                    (pk, assignment.worker_id, assignment.pk, label, status)
                    for pk, label in sorted(labels.items())
                ],
                now=("created_at",),
            )
    except IntegrityError:
        raise InvalidItems(
            "you have already answered one of these images, so this HIT cannot be saved"
        ) from None


def leases_return(item_ids: Iterable[int]) -> None:
    """Give back one lease on each image (never below zero); lock them first (items_lock)."""
    ids = sorted(set(item_ids))
    if ids:
        Item.objects.filter(pk__in=ids).update(active_leases=Greatest(F("active_leases") - 1, 0))


def _counters_add(*, ids: set[int], yes_ids: set[int], needing: set[int], leased: set[int]) -> None:
    """One UPDATE for a HIT's images ``ids`` (locked): a yes on ``yes_ids`` and a no on the rest,
    one vote less needed on ``needing``, one lease returned on ``leased`` (all subsets of ids).

    Written out rather than as the ORM's ``Case(When(pk__in=…))`` expressions: on every HIT
    submission compiling those took a tenth of the web process's CPU (issue 16). Only integer
    keys are interpolated, as parameters; the statement runs on PostgreSQL and SQLite."""
    if not ids:
        return
    params: list[int] = []

    def one_if(members: set[int]) -> str:
        """SQL for "1 when the row's key is in ``members``, else 0" (its keys added to params)."""
        if not members:
            return "0"
        params.extend(sorted(members))
        return f"(CASE WHEN id IN ({', '.join(['%s'] * len(members))}) THEN 1 ELSE 0 END)"

    columns = [
        f"yes_votes = yes_votes + {one_if(yes_ids)}",
        f"no_votes = no_votes + {one_if(ids - yes_ids)}",
    ]
    if needing:
        columns.append(f"votes_needed = votes_needed - {one_if(needing)}")
    if leased:
        # One lease back, never below zero (a CASE says it on PostgreSQL and SQLite alike).
        params.extend(sorted(leased))
        columns.append(
            f"active_leases = CASE WHEN id IN ({', '.join(['%s'] * len(leased))}) "
            "AND active_leases > 0 THEN active_leases - 1 ELSE active_leases END"
        )
    keys = sorted(ids)
    params.extend(keys)
    table = connection.ops.quote_name(Item._meta.db_table)
    statement = (
        f"UPDATE {table} SET {', '.join(columns)} "  # noqa: S608 - integers are parameters
        f"WHERE id IN ({', '.join(['%s'] * len(keys))})"
    )
    with connection.cursor() as cursor:
        cursor.execute(statement, params)


@dataclass(frozen=True)
class VotesCounted:
    gold_correct: int
    gold_total: int
    flags: list[str] = field(default_factory=list)
    # The worker is blocked now; ``newly_blocked``: by this HIT's gold answers (its votes were
    # excluded with the rest of the worker's).
    blocked: bool = False
    newly_blocked: bool = False
    # Votes on images that no longer needed one (decided, or their last needed vote came in
    # while this HIT's lease had run out or its votes were pending): kept as evidence,
    # not counted against votes_needed.
    extra_votes: int = 0


def votes_count(
    *,
    assignment: Assignment,
    project: Project,
    profile: WorkerProfile,
    items: dict[int, Item],
    gold_ids: set[int],
    labels: dict[int, bool],
    counted: bool,
    lease_held: bool,
    duration_ms: int,
    project_synset_id: int | None = None,
) -> VotesCounted:
    """Count a HIT's stored votes: counters, leases, gold score, flags, recompute.

    ``items`` are the HIT's images, locked, with their gold fields, state and votes needed;
    ``labels`` the worker's answer per image. When
    ``counted`` (the worker is not blocked) every image gets its yes or no; a non-gold image
    still pending and needing votes needs one vote less. The others — decided meanwhile, or
    whose needed votes came from other workers while this HIT's lease had run out (a late
    submission, an MTurk confirmation) — keep the vote as extra evidence without it counting
    against ``votes_needed``: nothing is clamped, and ``extra_votes`` says how many.
    ``lease_held`` says whether the assignment still holds its images' leases: only then are
    they given back — lease expiry or a release already returned them otherwise, and returning
    them twice would let the scheduler over-collect votes elsewhere. ``project_synset_id``:
    the synset's row in the project when the caller read it already (else it is looked up).
    """
    labeled_ids = set(labels) - gold_ids
    extra = 0
    if counted:
        # The images are locked: their state and votes needed are current.
        needing = {
            pk
            for pk in labeled_ids
            if items[pk].state == Item.State.PENDING and items[pk].votes_needed > 0
        }
        extra = len(labeled_ids - needing)
        yes_ids = {pk for pk, label in labels.items() if label}
        _counters_add(
            ids=set(labels), yes_ids=yes_ids, needing=needing,
            leased=labeled_ids if lease_held else set(),
        )  # fmt: skip
    elif lease_held:
        leases_return(labeled_ids)

    gold_correct = sum(1 for pk in gold_ids if labels.get(pk) == bool(items[pk].gold_label))
    raised = flags_record(
        profile=profile,
        assignment=assignment,
        labels=[labels[pk] for pk in sorted(labels)],
        duration_ms=duration_ms,
    )
    was_blocked = profile.blocked
    profile = gold_score(
        profile=profile, project=project, correct=gold_correct, total=len(gold_ids),
        also_save=("flags",),
    )  # fmt: skip
    synset_votes_changed_on_commit(
        project_id=project.pk, synset_id=assignment.synset_id, project_synset_id=project_synset_id
    )
    return VotesCounted(
        gold_correct=gold_correct,
        gold_total=len(gold_ids),
        flags=raised,
        blocked=profile.blocked,
        newly_blocked=profile.blocked and not was_blocked,
        extra_votes=extra,
    )


def gold_ids_of(*, entries: dict[int, bool], items: dict[int, Item]) -> set[int]:
    """The HIT's gold images: placed as gold in the assignment and still gold now."""
    return {pk for pk, is_gold in entries.items() if is_gold and items[pk].is_gold}

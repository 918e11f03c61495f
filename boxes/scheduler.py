"""The box scheduler: "give worker W their next box task of kind K".

The same promises as the HIT scheduler: tasks are handed out with ``SELECT … FOR UPDATE SKIP
LOCKED`` and a per-task lease counter (``BoxTask.active_leases``), so no task is leased more often
than it still needs answers; a worker's requests are serialised on their profile row, so nobody
gets the same task twice (nor verifies their own box); leases expire and return tasks to the pool.

Lock order everywhere in this app: assignment → worker profile → images (pk order) → tasks (pk
order). The scheduler locks tasks only, with SKIP LOCKED, so it never waits on a submission.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Exists, F, OuterRef, QuerySet
from django.utils import timezone

from labeling.leases import (
    assignment_lease_end,
    assignments_expire,
    assignments_live,
    leases_return,
)
from labeling.models import Project
from labeling.quality import worker_profile_get

from .models import BoxAssignment, BoxAssignmentTask, BoxProject, BoxTask, BoxVote, TaskKind
from .project_settings import box_settings_get

SYNSETS_TRIED = 8
MAX_LIVE_ASSIGNMENTS = 2  # the task on screen and one prefetched
EXPIRE_BATCH = 500


@transaction.atomic
def box_leases_expire(*, now: datetime | None = None, limit: int = EXPIRE_BATCH) -> int:
    """Expire leased box assignments past their expiry and return their tasks to the pool.
    Assignments being submitted right now are locked and skipped: the submission wins."""
    expired = assignments_expire(BoxAssignment, now=now or timezone.now(), limit=limit)
    if not expired:
        return 0
    _leases_release(
        Counter(
            BoxAssignmentTask.objects.filter(assignment_id__in=expired, is_gold=False).values_list(
                "task_id", flat=True
            )
        )
    )
    return len(expired)


def _leases_release(leased: Counter[int]) -> None:
    """Decrement active_leases; task rows locked in primary-key order first."""
    if not leased:
        return
    list(
        BoxTask.objects.select_for_update(no_key=True, of=("self",))
        .filter(pk__in=sorted(leased))
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    leases_return(BoxTask, leased)


def _seen_by(worker: AbstractBaseUser):
    """Subqueries: W answered this task, or it was in one of W's assignments."""
    voted = BoxVote.objects.filter(task=OuterRef("pk"), worker=worker)
    shown = BoxAssignmentTask.objects.filter(task=OuterRef("pk"), assignment__worker=worker)
    return voted, shown


def open_tasks(*, project: Project, worker: AbstractBaseUser, kind: str) -> QuerySet[BoxTask]:
    """Open tasks of ``kind`` still needing more answers than are leased out, never shown to
    ``worker``; quality tasks never on the worker's own box (Su et al. 2012: verification is
    done by other workers)."""
    voted, shown = _seen_by(worker)
    queryset = (
        BoxTask.objects.filter(
            project=project,
            kind=kind,
            state=BoxTask.State.OPEN,
            is_gold=False,
            answers_needed__gt=0,
        )  # fmt: skip
        .filter(answers_needed__gt=F("active_leases"))
        .exclude(Exists(voted))
        .exclude(Exists(shown))
    )
    if kind == TaskKind.QUALITY:
        queryset = queryset.exclude(box__drawer=worker)
    if kind == TaskKind.DRAW:
        # A drawer who said "nothing left to box" on an image is not asked to draw on it again.
        gave_up = BoxAssignmentTask.objects.filter(
            assignment__worker=worker,
            task__image=OuterRef("image"),
            task__kind=TaskKind.DRAW,
            task__decision="nothing_left",
        )
        queryset = queryset.exclude(Exists(gave_up))
    return queryset


@transaction.atomic
def box_task_next_for_worker(
    *, project: Project, worker: AbstractBaseUser, kind: str, exclude: Iterable[int] = ()
) -> BoxAssignment | None:
    """The worker's oldest live box assignment of ``kind`` not in ``exclude``, or a new one;
    None when blocked, the project is inactive, the worker holds ``MAX_LIVE_ASSIGNMENTS``
    leases of this kind, or nothing is left for them.

    A draw assignment holds one task (one box per task, Su et al. 2012); a verification
    assignment holds up to ``verify_per_grid`` tasks of one synset, plus gold quality tasks.
    """
    kind = TaskKind(kind)
    profile = worker_profile_get(worker=worker, lock=True)
    if profile.blocked or not project.active:
        return None
    live = assignments_live(BoxAssignment, project=project, worker=worker, kind=kind)
    excluded = set(exclude)
    for assignment in live:
        if assignment.pk not in excluded:
            return assignment
    if len(live) >= MAX_LIVE_ASSIGNMENTS:
        return None
    box_leases_expire()
    config = box_settings_get(project=project)
    size = 1 if kind == TaskKind.DRAW else config.verify_per_grid
    candidates = open_tasks(project=project, worker=worker, kind=kind)
    synsets = list(
        candidates.order_by("synset_id")
        .values_list("synset_id", flat=True)
        .distinct()[: SYNSETS_TRIED * 4]
    )
    random.SystemRandom().shuffle(synsets)
    for synset_id in synsets[:SYNSETS_TRIED]:
        task_ids = list(
            candidates.filter(synset_id=synset_id)
            .order_by("pk")
            .select_for_update(skip_locked=True, no_key=True, of=("self",))
            .values_list("pk", flat=True)[:size]
        )
        if task_ids:
            return _assignment_create(
                project=project, config=config, worker=worker, kind=kind,
                synset_id=synset_id, task_ids=task_ids,
            )  # fmt: skip
    return None


def _assignment_create(
    *,
    project: Project,
    config: BoxProject,
    worker: AbstractBaseUser,
    kind: str,
    synset_id: str,
    task_ids: list[int],
) -> BoxAssignment:
    """Lease ``task_ids`` (locked by the caller), adding gold tasks to verification grids."""
    BoxTask.objects.filter(pk__in=task_ids).update(active_leases=F("active_leases") + 1)
    gold_ids: list[int] = []
    if kind != TaskKind.DRAW and config.gold_per_grid:
        voted, shown = _seen_by(worker)
        gold_ids = list(
            BoxTask.objects.filter(project=project, synset_id=synset_id, kind=kind, is_gold=True)
            .exclude(Exists(voted))
            .exclude(Exists(shown))
            .order_by("?")
            .values_list("pk", flat=True)[: config.gold_per_grid]
        )
    assignment = BoxAssignment.objects.create(
        project=project,
        worker=worker,
        kind=kind,
        synset_id=synset_id,
        lease_expires_at=timezone.now() + timedelta(seconds=config.lease_seconds),
    )
    entries = [(pk, False) for pk in task_ids] + [(pk, True) for pk in gold_ids]
    random.SystemRandom().shuffle(entries)
    BoxAssignmentTask.objects.bulk_create(
        [
            BoxAssignmentTask(assignment=assignment, task_id=pk, position=i, is_gold=gold)
            for i, (pk, gold) in enumerate(entries)
        ]
    )
    return assignment


@transaction.atomic
def box_assignment_release(*, assignment_id: int, worker: AbstractBaseUser) -> bool:
    """Give up a leased box assignment: its tasks go back to the pool at once (they still count
    as shown to this worker). False when there was no live lease."""
    assignment = assignment_lease_end(BoxAssignment, assignment_id=assignment_id, worker=worker)
    if assignment is None:
        return False
    _leases_release(
        Counter(
            BoxAssignmentTask.objects.filter(assignment=assignment, is_gold=False).values_list(
                "task_id", flat=True
            )
        )
    )
    return True

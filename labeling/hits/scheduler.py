"""The scheduler: "give worker W their next HIT" (Deng et al. 2009 §3.2).

Images are handed out with ``SELECT … FOR UPDATE SKIP LOCKED`` and a per-image lease counter
(``Item.active_leases``), so under many concurrent workers no image is leased more often than it
still needs votes; a worker's own requests are serialised on their profile row, so nobody is
shown the same image twice. Leases expire and return their images to the pool.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Exists, F, OuterRef
from django.utils import timezone

from labeling.locks import items_lock
from labeling.models import Assignment, AssignmentItem, Item, Project, ProjectSynset, Vote
from labeling.quality import worker_profile_get

# Synsets tried per request when the first ones have nothing left for this worker (all their
# open images locked by others or already seen by W).
SYNSETS_TRIED = 8
# The HIT on screen plus one prefetched: more would hold images other workers could label.
MAX_LIVE_ASSIGNMENTS = 2
# Expired leases released per call; the periodic task sweeps the rest.
EXPIRE_BATCH = 500


@transaction.atomic
def leases_expire(*, now: datetime | None = None, limit: int = EXPIRE_BATCH) -> int:
    """Expire leased assignments past their expiry and return their images to the pool.

    Assignments being submitted right now are locked and skipped: the submission wins.
    Returns the number of assignments expired.
    """
    now = now or timezone.now()
    expired = list(
        Assignment.objects.select_for_update(skip_locked=True)
        .filter(status=Assignment.Status.LEASED, lease_expires_at__lte=now)
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )
    if not expired:
        return 0
    Assignment.objects.filter(pk__in=expired).update(
        status=Assignment.Status.EXPIRED, updated_at=now
    )
    leased = Counter(
        AssignmentItem.objects.filter(assignment_id__in=expired, is_gold=False).values_list(
            "item_id", flat=True
        )
    )
    _leases_release(leased)
    return len(expired)


def _leases_release(leased: Counter[int]) -> None:
    """Decrement active_leases; rows locked in primary-key order first so this never deadlocks
    with a submission doing the same."""
    if not leased:
        return
    items_lock(leased, fields=("pk",))
    by_count: dict[int, list[int]] = {}
    for item_id, count in leased.items():
        by_count.setdefault(count, []).append(item_id)
    for count, item_ids in by_count.items():
        Item.objects.filter(pk__in=item_ids, active_leases__gte=count).update(
            active_leases=F("active_leases") - count
        )


def _live_assignments(*, project: Project, worker: AbstractBaseUser) -> list[Assignment]:
    return list(
        Assignment.objects.filter(
            project=project,
            worker=worker,
            status=Assignment.Status.LEASED,
            lease_expires_at__gt=timezone.now(),
        ).order_by("pk")
    )


def _open_items(*, project: Project, worker: AbstractBaseUser):
    """Pending images still needing more votes than are leased out, never voted on or shown to
    ``worker``."""
    voted = Vote.objects.filter(item=OuterRef("pk"), worker=worker)
    shown = AssignmentItem.objects.filter(item=OuterRef("pk"), assignment__worker=worker)
    return (
        Item.objects.filter(
            project=project, state=Item.State.PENDING, is_gold=False, votes_needed__gt=0
        )
        .filter(votes_needed__gt=F("active_leases"))
        .exclude(Exists(voted))
        .exclude(Exists(shown))
    )


def _synsets_needing_work(*, project: Project, worker: AbstractBaseUser) -> list[str]:
    """Synsets below their target with open images for ``worker``, fewest accepted first, so
    every synset progresses; ties broken at random to spread concurrent workers."""
    open_for_worker = _open_items(project=project, worker=worker).filter(
        synset_id=OuterRef("synset_id")
    )
    rows = list(
        ProjectSynset.objects.filter(project=project, accepted_count__lt=project.target_per_synset)
        .filter(Exists(open_for_worker))
        .order_by("accepted_count", "synset_id")
        .values_list("synset_id", "accepted_count")[: SYNSETS_TRIED * 4]
    )
    rng = random.SystemRandom()
    rows.sort(key=lambda row: (row[1], rng.random()))
    return [synset_id for synset_id, _ in rows[:SYNSETS_TRIED]]


@transaction.atomic
def hit_next_for_worker(
    *, project: Project, worker: AbstractBaseUser, exclude: Iterable[int] = ()
) -> Assignment | None:
    """The worker's oldest live assignment in ``project`` not in ``exclude``, or a new one; None
    when blocked, when the project is inactive, when the worker already holds
    ``MAX_LIVE_ASSIGNMENTS`` leases or when nothing is left for this worker.

    ``exclude`` lets the page prefetch the next HIT while the current one is on screen.

    New HITs hold images of one synset: seed images first (they need ≥ 10 votes, Deng et al.
    2009 §3.2), then those with the most votes already (closest to a decision), plus up to
    ``gold_per_hit`` gold images of that synset in random positions.
    """
    profile = worker_profile_get(worker=worker, lock=True)
    if profile.blocked or not project.active:
        return None
    live = _live_assignments(project=project, worker=worker)
    excluded = set(exclude)
    for assignment in live:
        if assignment.pk not in excluded:
            return assignment
    if len(live) >= MAX_LIVE_ASSIGNMENTS:
        return None
    # Lazily return abandoned images to the pool; the periodic task covers idle periods.
    leases_expire()

    for synset_id in _synsets_needing_work(project=project, worker=worker):
        item_ids = list(
            _open_items(project=project, worker=worker)
            .filter(synset_id=synset_id)
            .order_by("-is_seed", -(F("yes_votes") + F("no_votes")), "pk")
            .select_for_update(skip_locked=True, no_key=True, of=("self",))
            .values_list("pk", flat=True)[: project.images_per_hit]
        )
        if item_ids:
            return _assignment_create(
                project=project, worker=worker, synset_id=synset_id, item_ids=item_ids
            )
    return None


def _assignment_create(
    *, project: Project, worker: AbstractBaseUser, synset_id: str, item_ids: list[int]
) -> Assignment:
    """Lease ``item_ids`` (locked by the caller) and add gold images. Call inside the
    scheduler's transaction."""
    Item.objects.filter(pk__in=item_ids).update(active_leases=F("active_leases") + 1)
    gold_ids: list[int] = []
    if project.gold_per_hit:
        # "Never shown twice" covers gold: an image in any assignment of this worker (the HIT on
        # screen, the prefetched one, submitted or abandoned ones) is not handed out again. When
        # the synset's gold runs out for this worker the HIT carries fewer gold images, or none.
        voted = Vote.objects.filter(item=OuterRef("pk"), worker=worker)
        shown = AssignmentItem.objects.filter(item=OuterRef("pk"), assignment__worker=worker)
        gold_ids = list(
            Item.objects.filter(project=project, synset_id=synset_id, is_gold=True)
            .exclude(Exists(voted))
            .exclude(Exists(shown))
            .order_by("?")
            .values_list("pk", flat=True)[: project.gold_per_hit]
        )
    assignment = Assignment.objects.create(
        project=project,
        worker=worker,
        synset_id=synset_id,
        lease_expires_at=timezone.now() + timedelta(seconds=project.lease_seconds),
    )
    # Gold images take random places so a worker cannot tell them apart.
    entries = [(pk, False) for pk in item_ids] + [(pk, True) for pk in gold_ids]
    random.SystemRandom().shuffle(entries)
    AssignmentItem.objects.bulk_create(
        [
            AssignmentItem(assignment=assignment, item_id=pk, position=position, is_gold=gold)
            for position, (pk, gold) in enumerate(entries)
        ]
    )
    return assignment


@transaction.atomic
def assignment_release(*, assignment_id: int, worker: AbstractBaseUser) -> bool:
    """Give up a leased assignment (the page does this when its submission can never succeed):
    its images go back to the pool at once instead of waiting for the lease to run out. They
    still count as shown to this worker. Returns False when there was no live lease to give up.
    """
    assignment = (
        Assignment.objects.select_for_update(of=("self",))
        .filter(pk=assignment_id, worker=worker, status=Assignment.Status.LEASED)
        .first()
    )
    if assignment is None:
        return False
    now = timezone.now()
    Assignment.objects.filter(pk=assignment.pk).update(
        status=Assignment.Status.EXPIRED, lease_expires_at=now, updated_at=now
    )
    leased = Counter(
        AssignmentItem.objects.filter(assignment=assignment, is_gold=False).values_list(
            "item_id", flat=True
        )
    )
    _leases_release(leased)
    return True

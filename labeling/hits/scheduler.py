"""The scheduler: "give worker W their next HIT" (Deng et al. 2009 §3.2).

Images are handed out with ``SELECT … FOR UPDATE SKIP LOCKED`` and a per-image lease counter
(``Item.active_leases``), so under many concurrent workers no image is leased more often than it
still needs votes; a worker's own requests are serialised on their profile row, so nobody is
shown the same image twice. Leases expire and return their images to the pool (the periodic
task ``leases_expire_task``; never on a worker's request).

What a request costs does not grow with the project (issue 16): the open work is a partial
index (``item_open_work``: per synset, only images that can take one more lease, in hand-out
order) and W's seen set is an index on (worker, item), so a new HIT reads the HIT's images plus
the few open ones W has already seen, never the project's items nor W's whole history. The
scheduler's part of a request is seven statements whatever the HIT's size, and a new HIT comes
back with its grid (``Assignment.grid_rows``) so that showing it reads nothing more.
"""

from __future__ import annotations

import functools
import random
from collections import Counter
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction
from django.utils import timezone

from labeling.leases import (
    assignment_lease_end,
    assignments_expire,
    assignments_live,
    leases_return,
)
from labeling.locks import item_keys_lock
from labeling.models import Assignment, AssignmentItem, Item, Project
from labeling.quality import worker_profile_get
from labeling.rows import rows_insert

# Synsets tried per request when the first ones have nothing left for this worker (all their
# open images locked by others or already seen by W).
SYNSETS_TRIED = 8
# The HIT on screen plus one prefetched: more would hold images other workers could label.
MAX_LIVE_ASSIGNMENTS = 2
# Expired leases released per call; the periodic task sweeps the rest.
EXPIRE_BATCH = 500

# The scheduler's three statements are SQL written out: their plans are the contract of this
# module (tests/labeling/test_scheduler.py checks them on PostgreSQL), and each repeats the
# predicate of the index it walks word for word so the planner can use it.
#
# "Not seen by W": one probe per image into W's seen set (assignment_item_seen, and the
# vote_once_per_item_worker constraint's index). On PostgreSQL ``OFFSET 0`` keeps each NOT
# EXISTS a per-image probe: without it the planner may turn it into an anti-join that reads W's
# whole history first.
_UNSEEN = """
    NOT EXISTS (SELECT 1 FROM labeling_assignmentitem AS seen
                 WHERE seen.worker_id = %(worker)s AND seen.item_id = {image}.id {fence})
AND NOT EXISTS (SELECT 1 FROM labeling_vote AS vote
                 WHERE vote.worker_id = %(worker)s AND vote.item_id = {image}.id {fence})
"""
# The predicate of ``item_open_work``: images that can take one more lease.
_OPEN = """
    NOT {image}.is_gold AND {image}.state = %(pending)s
AND {image}.votes_needed > {image}.active_leases
"""
# Hand-out order within a synset: seed images first, then those with the most votes (closest
# to a decision).
_HAND_OUT_ORDER = "item.is_seed DESC, (item.yes_votes + item.no_votes) DESC, item.id"


@functools.cache
def _statements(vendor: str) -> dict[str, str]:
    """The scheduler's statements for a database vendor: PostgreSQL (production, the suite)
    or SQLite (the zero-config local run, whose writers the database serialises)."""
    postgres = vendor == "postgresql"
    fence = "OFFSET 0" if postgres else ""  # SQLite has no such plan choice (nor OFFSET alone)
    open_item = _OPEN.format(image="item")
    unseen = {image: _UNSEEN.format(image=image, fence=fence) for image in ("item", "gold")}
    # Synsets below their target with an open image W has not seen, fewest accepted first:
    # walks ``project_synset_by_accepted`` and, per synset, ``item_open_work`` until the first
    # such image.
    synsets = f"""
SELECT ps.synset_id, ps.accepted_count
  FROM labeling_projectsynset AS ps
 WHERE ps.project_id = %(project)s AND ps.accepted_count < %(target)s
   AND EXISTS (SELECT 1 FROM labeling_item AS item
                WHERE item.project_id = ps.project_id AND item.synset_id = ps.synset_id
                  AND {open_item} AND {unseen["item"]}
               {fence})
 ORDER BY ps.accepted_count, ps.synset_id
 LIMIT %(limit)s
"""  # noqa: S608 - only this module's constants; values are parameters
    # Lease up to ``limit`` open images of one synset that W has never been shown nor voted
    # on, in one statement: the inner SELECT walks ``item_open_work`` in hand-out order, probes
    # W's seen set per image and (PostgreSQL) skips images another transaction is leasing right
    # now; the UPDATE takes one lease on each. PostgreSQL re-checks ``votes_needed >
    # active_leases`` on a row it locks after a concurrent change, so no image is leased more
    # often than it still needs votes; SQLite runs one write transaction at a time.
    candidates = f"""
        SELECT item.id
          FROM labeling_item AS item
         WHERE item.project_id = %(project)s AND item.synset_id = %(synset)s
           AND {open_item} AND {unseen["item"]}
         ORDER BY {_HAND_OUT_ORDER}
         LIMIT %(limit)s"""  # noqa: S608 - only this module's constants
    if postgres:
        lease = f"""
UPDATE labeling_item AS leased
   SET active_leases = leased.active_leases + 1
 WHERE leased.id = ANY(ARRAY({candidates}
           FOR NO KEY UPDATE OF item SKIP LOCKED))
RETURNING leased.id, leased.candidate_id
"""  # noqa: S608 - only this module's constants; values are parameters
    else:
        lease = f"""
UPDATE labeling_item
   SET active_leases = active_leases + 1
 WHERE id IN ({candidates})
RETURNING id, candidate_id
"""  # noqa: S608 - only this module's constants; values are parameters
    # Up to ``limit`` gold images of the synset W has never been shown, at random
    # (``item_gold_by_synset``).
    gold = f"""
SELECT gold.id, gold.candidate_id
  FROM labeling_item AS gold
 WHERE gold.project_id = %(project)s AND gold.synset_id = %(synset)s AND gold.is_gold
   AND {unseen["gold"]}
 ORDER BY random()
 LIMIT %(limit)s
"""  # noqa: S608 - only this module's constants; values are parameters
    return {"synsets": synsets, "lease": lease, "gold": gold}


def _rows(statement: str, params: dict) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(_statements(connection.vendor)[statement], params)
        return cursor.fetchall()


@transaction.atomic
def leases_expire(*, now: datetime | None = None, limit: int = EXPIRE_BATCH) -> int:
    """Expire leased assignments past their expiry and return their images to the pool.

    Assignments being submitted right now are locked and skipped: the submission wins.
    Returns the number of assignments expired.
    """
    expired = assignments_expire(Assignment, now=now or timezone.now(), limit=limit)
    if not expired:
        return 0
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
    item_keys_lock(leased)
    leases_return(Item, leased)


def _synsets_needing_work(*, project: Project, worker: AbstractBaseUser) -> list[str]:
    """Synsets below their target with an open image for ``worker``, fewest accepted first, so
    every synset progresses; ties broken at random to spread concurrent workers."""
    rows = _rows(
        "synsets",
        {
            "project": project.pk,
            "target": project.target_per_synset,
            "pending": Item.State.PENDING,
            "worker": worker.pk,
            "limit": SYNSETS_TRIED * 4,
        },
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

    Expired leases are not swept here: that is the periodic task's job, off the request path.
    An expired assignment is no longer live for its worker; its images come back to the pool
    at the next sweep.
    """
    profile = worker_profile_get(worker=worker, lock=True)
    if profile.blocked or not project.active:
        return None
    live = assignments_live(Assignment, project=project, worker=worker)
    excluded = set(exclude)
    for assignment in live:
        if assignment.pk not in excluded:
            assignment.project = project
            return assignment
    if len(live) >= MAX_LIVE_ASSIGNMENTS:
        return None

    for synset_id in _synsets_needing_work(project=project, worker=worker):
        item_ids = _items_lease(
            project=project, worker=worker, synset_id=synset_id, limit=project.images_per_hit
        )
        if item_ids:
            return _assignment_create(
                project=project, worker=worker, synset_id=synset_id, item_ids=item_ids
            )
    return None


def _items_lease(
    *, project: Project, worker: AbstractBaseUser, synset_id: str, limit: int
) -> dict[int, int]:
    """Lock and lease up to ``limit`` open images of one synset for ``worker`` (one statement;
    see ``_statements``); returns their candidate ids by image key, in key order. Call inside
    the scheduler's transaction."""
    rows = _rows(
        "lease",
        {
            "project": project.pk,
            "synset": synset_id,
            "pending": Item.State.PENDING,
            "worker": worker.pk,
            "limit": limit,
        },
    )
    return dict(sorted(rows))


def _assignment_create(
    *, project: Project, worker: AbstractBaseUser, synset_id: str, item_ids: dict[int, int]
) -> Assignment:
    """Record the HIT for the images leased by the caller (``item_ids``: each image's key with
    its candidate's, as ``_items_lease`` returns them) and add gold images. The assignment
    carries its grid in ``grid_rows``: (image key, candidate key) in grid order, for
    ``hit_payload``. Call inside the scheduler's transaction."""
    gold: dict[int, int] = {}
    if project.gold_per_hit:
        # "Never shown twice" covers gold: an image in any assignment of this worker (the HIT on
        # screen, the prefetched one, submitted or abandoned ones) is not handed out again. When
        # the synset's gold runs out for this worker the HIT carries fewer gold images, or none.
        gold = dict(
            _rows(
                "gold",
                {
                    "project": project.pk,
                    "synset": synset_id,
                    "worker": worker.pk,
                    "limit": project.gold_per_hit,
                },
            )
        )
    assignment = Assignment.objects.create(
        project=project,
        worker=worker,
        synset_id=synset_id,
        lease_expires_at=timezone.now() + timedelta(seconds=project.lease_seconds),
    )
    # Gold images take random places so a worker cannot tell them apart.
    entries = [(pk, False) for pk in item_ids] + [(pk, True) for pk in gold]
    random.SystemRandom().shuffle(entries)
    candidates = {**item_ids, **gold}
    assignment.grid_rows = [(pk, candidates[pk]) for pk, _ in entries]
    rows_insert(
        AssignmentItem,
        ("assignment", "worker", "item", "position", "is_gold"),
        [
            (assignment.pk, worker.pk, pk, position, is_gold)
            for position, (pk, is_gold) in enumerate(entries)
        ],
    )
    return assignment


@transaction.atomic
def assignment_release(*, assignment_id: int, worker: AbstractBaseUser) -> bool:
    """Give up a leased assignment (the page does this when its submission can never succeed):
    its images go back to the pool at once instead of waiting for the lease to run out. They
    still count as shown to this worker. Returns False when there was no live lease to give up.
    """
    assignment = assignment_lease_end(Assignment, assignment_id=assignment_id, worker=worker)
    if assignment is None:
        return False
    leased = Counter(
        AssignmentItem.objects.filter(assignment=assignment, is_gold=False).values_list(
            "item_id", flat=True
        )
    )
    _leases_release(leased)
    return True

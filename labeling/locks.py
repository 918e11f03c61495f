"""The row locks of the write path, taken in one order everywhere (one helper per kind of row).

Every transaction that records votes or moves an image's counters or leases — a built-in
submission, a panel HIT, an MTurk confirmation or discard, the scheduler, lease expiry, blocking
a worker — takes its row locks in this order, and never the other way round:

1. the crowd platform's records (``crowds.CrowdAssignment``, ``crowds.PanelParticipant``), when
   the work came through a platform;
2. the assignment (``labeling.Assignment``), ``FOR UPDATE OF`` its own row only;
3. the worker's profile (``labeling.WorkerProfile``);
4. the images (``labeling.Item``), in ascending primary key, ``FOR NO KEY UPDATE``.

Two transactions that lock the same rows in the same order cannot deadlock; one that skips a
step is fine, one that goes back up the list is not. That is why a submission whose gold answers
block its worker only marks the block: the worker's other images are locked and their votes
withdrawn after it commits, in a transaction of their own (``quality.blocked_votes_withdraw``).
``ProjectSynset`` rows are written without taking a lock here (the consensus recompute locks them
alone, outside this order).

Why ``OF self`` and ``NO KEY``: ``FOR UPDATE`` on the joined project row would queue every
submission of a project behind one another, and a full ``FOR UPDATE`` on items blocks the inserts
that reference them (AssignmentItem, Vote) — both deadlocked the scheduler under load.

The idea of one helper that locks rows in primary-key order is Saleor's ``lock_objects``.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth.models import AbstractBaseUser
from django.db import connection
from django.db.models import F, QuerySet

from .models import Assignment, Item, WorkerProfile


def assignment_lock(queryset: QuerySet[Assignment]) -> Assignment | None:
    """Step 2: lock the assignment matched by ``queryset`` (its own row only)."""
    return queryset.select_for_update(of=("self",)).first()


def worker_profile_lock(*, worker: AbstractBaseUser) -> WorkerProfile:
    """Step 3: the worker's profile, created on first use, locked (this also serialises one
    worker's concurrent requests, e.g. a double-clicked "next HIT")."""
    profile = WorkerProfile.objects.select_for_update().filter(user=worker).first()
    if profile is None:  # first use: create (a concurrent first request may win), then lock
        WorkerProfile.objects.get_or_create(user=worker)
        profile = WorkerProfile.objects.select_for_update().get(user=worker)
    return profile


def items_lock(item_ids: Iterable[int], *, fields: Iterable[str] = ()) -> dict[int, Item]:
    """Step 4: lock the images in primary-key order; returns them by key (``fields`` limits
    what is read)."""
    queryset = (
        Item.objects.select_for_update(no_key=True, of=("self",))
        .filter(pk__in=sorted(set(item_ids)))
        .order_by("pk")
    )
    if fields:
        queryset = queryset.only(*fields)
    return {item.pk: item for item in queryset}


def assignment_items_lock(assignment_id: int, *, fields: Iterable[str]) -> dict[int, Item]:
    """Step 4 for the images of one assignment, read with their places in it: each image comes
    with ``placed_gold`` (shown as gold in this assignment). One statement instead of reading
    the assignment's images first; ``fields`` limits what is read of each image."""
    queryset = (
        Item.objects.select_for_update(no_key=True, of=("self",))
        .filter(assignment_items__assignment_id=assignment_id)
        .annotate(placed_gold=F("assignment_items__is_gold"))
        .only(*fields)
        .order_by("pk")
    )
    return {item.pk: item for item in queryset}


def item_keys_lock(item_ids: Iterable[int]) -> None:
    """Step 4 when only the locks are needed (the caller writes the rows itself): one statement
    with the keys as one array, no model instances — a recompute may lock ten thousand images."""
    ids = sorted(set(item_ids))
    if not ids:
        return
    if connection.vendor != "postgresql":  # no row locks to take (SQLite locks the database)
        return
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id FROM {connection.ops.quote_name(Item._meta.db_table)} "  # noqa: S608
            "WHERE id = ANY(%s) ORDER BY id FOR NO KEY UPDATE",
            [ids],
        )

"""The lease life cycle every kind of assignment shares (``LeasedAssignment``): which leases are
live, expiring the ones past their time, giving one up, and handing the leased rows' counters
back. Each scheduler keeps its own choice of work and its own row locks; these helpers take the
assignment model (and the model whose ``active_leases`` counter a lease holds) as an argument.

Call them inside the caller's transaction.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.db import models
from django.db.models import F
from django.utils import timezone

from .models import LeasedAssignment, Project


def assignments_live(
    model: type[LeasedAssignment], *, project: Project, worker: AbstractBaseUser, **filters
) -> list[LeasedAssignment]:
    """The worker's leases in ``project`` that have not run out yet (``filters`` narrow them),
    oldest first."""
    return list(
        model.objects.filter(
            project=project,
            worker=worker,
            **filters,
            status=model.Status.LEASED,
            lease_expires_at__gt=timezone.now(),
        ).order_by("pk")
    )


def assignments_expire(model: type[LeasedAssignment], *, now: datetime, limit: int) -> list[int]:
    """Mark up to ``limit`` leased assignments past their expiry as expired; returns their keys.
    Assignments being submitted right now are locked and skipped: the submission wins."""
    expired = list(
        model.objects.select_for_update(skip_locked=True)
        .filter(status=model.Status.LEASED, lease_expires_at__lte=now)
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )
    if expired:
        model.objects.filter(pk__in=expired).update(status=model.Status.EXPIRED, updated_at=now)
    return expired


def assignment_lease_end(
    model: type[LeasedAssignment], *, assignment_id: int, worker: AbstractBaseUser
) -> LeasedAssignment | None:
    """Give up the worker's live lease on an assignment: it is expired now. None when there was
    no live lease to give up. The assignment row is locked (its own row only)."""
    assignment = (
        model.objects.select_for_update(of=("self",))
        .filter(pk=assignment_id, worker=worker, status=model.Status.LEASED)
        .first()
    )
    if assignment is None:
        return None
    now = timezone.now()
    model.objects.filter(pk=assignment.pk).update(
        status=model.Status.EXPIRED, lease_expires_at=now, updated_at=now
    )
    return assignment


def assignment_submitted(
    assignment: LeasedAssignment,
    *,
    now: datetime,
    duration_ms: int,
    reward_cents: int,
    result: dict,
) -> None:
    """Record a submission on the (locked) assignment: submitted at ``now``, with the worker's
    time, the reward and the stored ``result`` a re-post is answered with."""
    assignment.status = assignment.Status.SUBMITTED
    assignment.submitted_at = now
    assignment.duration_ms = max(0, int(duration_ms))
    assignment.reward_cents = reward_cents
    assignment.result = result
    assignment.save(
        update_fields=[
            "status", "submitted_at", "duration_ms", "reward_cents", "result", "updated_at",
        ]
    )  # fmt: skip


def leases_return(model: type[models.Model], leased: Counter[int]) -> None:
    """Take ``leased[pk]`` leases off the ``active_leases`` counter of each row of ``model``
    (never below zero). Lock the rows first, in primary-key order, as the caller's lock order
    says."""
    by_count: dict[int, list[int]] = {}
    for pk, count in leased.items():
        by_count.setdefault(count, []).append(pk)
    for count, pks in by_count.items():
        model.objects.filter(pk__in=pks, active_leases__gte=count).update(
            active_leases=F("active_leases") - count
        )

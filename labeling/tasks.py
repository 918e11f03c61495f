"""Celery tasks of the labeling app: thin wrappers over services, taking ids."""

from __future__ import annotations

from celery import shared_task

from .hits.scheduler import EXPIRE_BATCH, leases_expire
from .quality import blocked_votes_sweep


@shared_task(soft_time_limit=120, time_limit=150)
def leases_expire_task() -> int:
    """Periodic: return abandoned HITs' images to the pool (re-enqueues while work remains), and
    take out the votes of workers blocked by a submission whose after-commit withdrawal was
    lost."""
    blocked_votes_sweep()
    expired = leases_expire()
    if expired >= EXPIRE_BATCH:
        leases_expire_task.delay()
    return expired

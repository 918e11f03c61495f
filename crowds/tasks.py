"""Celery tasks of the crowds: the periodic MTurk sync (thin wrappers, ids in, idempotent),
routed to the ``crowd`` queue."""

from __future__ import annotations

import logging

from celery import shared_task
from django.db.models import Q

from .base import CrowdUnavailable
from .models import CrowdAssignment, CrowdPublication
from .mturk import mturk_sync

logger = logging.getLogger(__name__)

SYNC_BATCH = 50


@shared_task(
    bind=True, acks_late=True, soft_time_limit=300, time_limit=330, max_retries=5
)
def crowd_mturk_sync(self, publication_id: int) -> dict:
    """Reconcile one MTurk publication; network outages retry later with backoff, a refused
    account is recorded on the publication for the admin page."""
    try:
        result = mturk_sync(publication_id=publication_id)
    except CrowdUnavailable as error:
        CrowdPublication.objects.filter(pk=publication_id).update(last_error=error.message)
        raise self.retry(exc=error, countdown=min(3600, 60 * 2**self.request.retries)) from None
    except Exception as error:
        message = getattr(error, "message", str(error))
        CrowdPublication.objects.filter(pk=publication_id).update(last_error=message[:2000])
        logger.warning("mturk sync of publication %s failed: %s", publication_id, message)
        raise
    return {"confirmed": result.confirmed, "approved": result.approved,
            "rejected": result.rejected, "expired_hits": result.expired_hits}  # fmt: skip


@shared_task(soft_time_limit=60, time_limit=90)
def crowd_sync_sweep() -> int:
    """Periodic: enqueue a sync for every MTurk publication still open or with pending votes
    (bounded batch, oldest sync first)."""
    ids = list(
        CrowdPublication.objects.filter(backend="mturk")
        .filter(
            Q(status=CrowdPublication.Status.OPEN)
            | Q(hits__assignments__state=CrowdAssignment.State.SUBMITTED)
        )
        .distinct()
        .order_by("pk")
        .values_list("pk", flat=True)[:SYNC_BATCH]
    )
    for publication_id in ids:
        crowd_mturk_sync.delay(publication_id)
    return len(ids)

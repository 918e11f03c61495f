"""Celery tasks of the labeling app: thin wrappers over services, taking ids."""

from __future__ import annotations

import logging

from celery import shared_task
from django.db.models import Count, Q
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerError

from .hits.scheduler import EXPIRE_BATCH, leases_expire
from .models import Item, ProjectSynset

logger = logging.getLogger(__name__)

SWEEP_BATCH = 200


def project_synset_counts_refresh(*, project_synset_id: int) -> None:
    """Write a synset's accepted/rejected/undecided counts from its items.

    Placeholder body of the consensus recompute: the consensus wiring replaces it with the
    engine's posteriors and decisions (Item.state, Item.posterior, Item.votes_needed).
    """
    project_synset = ProjectSynset.objects.filter(pk=project_synset_id).first()
    if project_synset is None:
        return
    counts = Item.objects.filter(
        project_id=project_synset.project_id, synset_id=project_synset.synset_id, is_gold=False
    ).aggregate(
        accepted=Count("pk", filter=Q(state=Item.State.ACCEPTED)),
        rejected=Count("pk", filter=Q(state=Item.State.REJECTED)),
        undecided=Count("pk", filter=Q(state=Item.State.UNDECIDED)),
    )
    ProjectSynset.objects.filter(pk=project_synset_id).update(
        accepted_count=counts["accepted"],
        rejected_count=counts["rejected"],
        undecided_count=counts["undecided"],
        needs_recompute=False,
        recomputed_at=timezone.now(),
        updated_at=timezone.now(),
    )


def recompute_synset_later(project_synset_id: int) -> None:
    """Mark the synset for recompute and enqueue it; call from ``transaction.on_commit``.

    A broker outage is logged, not raised: the vote is already committed and the flag lets
    ``recompute_pending_sweep`` catch up.
    """
    ProjectSynset.objects.filter(pk=project_synset_id).update(needs_recompute=True)
    try:
        recompute_synset.delay(project_synset_id)
    except (BrokerError, OSError):
        logger.warning("broker unavailable; synset %s left for the sweep", project_synset_id)


@shared_task(bind=True, acks_late=True, soft_time_limit=300, time_limit=330)
def recompute_synset(self, project_synset_id: int) -> None:
    """Recompute one synset's consensus summary (idempotent)."""
    project_synset_counts_refresh(project_synset_id=project_synset_id)


@shared_task(soft_time_limit=120, time_limit=150)
def recompute_pending_sweep() -> int:
    """Periodic: recompute synsets whose enqueue was lost (bounded batch)."""
    ids = list(
        ProjectSynset.objects.filter(needs_recompute=True)
        .order_by("updated_at")
        .values_list("pk", flat=True)[:SWEEP_BATCH]
    )
    for project_synset_id in ids:
        project_synset_counts_refresh(project_synset_id=project_synset_id)
    return len(ids)


@shared_task(soft_time_limit=120, time_limit=150)
def leases_expire_task() -> int:
    """Periodic: return abandoned HITs' images to the pool; re-enqueues while work remains."""
    expired = leases_expire()
    if expired >= EXPIRE_BATCH:
        leases_expire_task.delay()
    return expired

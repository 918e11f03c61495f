"""Celery tasks of consensus: the debounced per-synset recompute and its periodic sweep (thin
wrappers over ``consensus.recompute``, taking ids; routed to the ``consensus`` queue)."""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import shared_task
from django.db.models import Q, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerError

from labeling.models import ProjectSynset

from .recompute import synset_recompute_consensus

logger = logging.getLogger(__name__)

SWEEP_BATCH = 200
# A queued recompute this late past the longest wait is taken as lost (a worker died holding it,
# or the broker lost it).
SWEEP_GRACE_SECONDS = 120

# Votes arriving within this window share one recompute (debounce).
RECOMPUTE_DELAY_SECONDS = 2
# A recompute reads and refits the whole synset, so its cost grows with the synset while one HIT
# changes 26 images, and one consensus worker serves every busy synset of every project. So a
# synset's next recompute waits this many times the work already queued — the last duration of
# every synset waiting for a recompute, itself included: each of N equally busy synsets then
# waits N times as long, and the consensus worker spends about 1/(1 + factor) of a core in all,
# however many synsets are busy; the web requests keep the rest. One busy synset waits factor ×
# its own last duration. Capped, so a decision is never held back longer than that: five
# minutes, reached by about 75 busy 10,000-image synsets (0.4 s each) — beyond that the share
# grows again, and the way on is another consensus worker (docs/scale.md).
RECOMPUTE_COST_FACTOR = 10
RECOMPUTE_MAX_DELAY_SECONDS = 300


def recompute_delay(queued_seconds: float | None) -> float:
    """Seconds to wait before recomputing a synset when the synsets waiting for a recompute
    (this one included) took ``queued_seconds`` in all the last time they were recomputed."""
    proportional = RECOMPUTE_COST_FACTOR * (queued_seconds or 0.0)
    return min(max(RECOMPUTE_DELAY_SECONDS, proportional), RECOMPUTE_MAX_DELAY_SECONDS)


def queued_recompute_seconds() -> float:
    """The last recompute durations of every synset flagged for a recompute (a partial index
    holds exactly those rows)."""
    total = ProjectSynset.objects.filter(needs_recompute=True).aggregate(
        seconds=Sum(Coalesce("recompute_seconds", Value(0.0)))
    )["seconds"]
    return float(total or 0.0)


def recompute_synset_later(project_synset_id: int) -> None:
    """Mark the synset for recompute and enqueue it once; call from ``transaction.on_commit``.

    Debounced: only the submission that flips ``needs_recompute`` enqueues a task, delayed by
    ``recompute_delay`` of the queued work; the task clears the flag when it starts reading
    votes, so later votes enqueue the next one. A broker outage is logged, not raised: the vote
    is already committed and the flag lets ``recompute_pending_sweep`` catch up.
    """
    flipped = ProjectSynset.objects.filter(pk=project_synset_id, needs_recompute=False).update(
        needs_recompute=True, recompute_queued_at=timezone.now()
    )
    if not flipped:
        return
    try:
        recompute_synset.apply_async(
            (project_synset_id,), countdown=recompute_delay(queued_recompute_seconds())
        )
    except (BrokerError, OSError):
        logger.warning("broker unavailable; synset %s left for the sweep", project_synset_id)
        _left_for_the_sweep(project_synset_id)
    except Exception:
        # Runs after the votes committed: whatever the broker client raises, the request must
        # not fail — the needs_recompute flag lets the sweep catch up.
        logger.exception("enqueue failed; synset %s left for the sweep", project_synset_id)
        _left_for_the_sweep(project_synset_id)


def _left_for_the_sweep(project_synset_id: int) -> None:
    """No task was sent: the next sweep recomputes the synset without waiting for one."""
    ProjectSynset.objects.filter(pk=project_synset_id).update(recompute_queued_at=None)


def recompute_on_votes_changed(sender, *, project_synset_id: int, **kwargs) -> None:
    """Receiver of ``labeling.signals.synset_votes_changed`` (connected in ``apps.py``)."""
    recompute_synset_later(project_synset_id)


@shared_task(bind=True, acks_late=True, soft_time_limit=300, time_limit=330)
def recompute_synset(self, project_synset_id: int) -> None:
    """Recompute one synset's consensus (idempotent; safe to kill and rerun)."""
    synset_recompute_consensus(project_synset_id=project_synset_id)


@shared_task(soft_time_limit=120, time_limit=150)
def recompute_pending_sweep() -> int:
    """Periodic: recompute synsets whose enqueue was lost (bounded batch): flagged with no task
    sent, or with a task overdue by ``SWEEP_GRACE_SECONDS`` past the longest wait. A synset whose
    task is still waiting its turn is left to it — sweeping it would spend the recompute budget
    twice."""
    overdue = timezone.now() - timedelta(
        seconds=RECOMPUTE_MAX_DELAY_SECONDS + SWEEP_GRACE_SECONDS
    )
    ids = list(
        ProjectSynset.objects.filter(needs_recompute=True)
        .filter(Q(recompute_queued_at__isnull=True) | Q(recompute_queued_at__lt=overdue))
        .order_by("updated_at")
        .values_list("pk", flat=True)[:SWEEP_BATCH]
    )
    for project_synset_id in ids:
        synset_recompute_consensus(project_synset_id=project_synset_id)
    return len(ids)

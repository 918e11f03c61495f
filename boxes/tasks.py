"""Celery tasks of the box stage: thin wrappers taking ids (consensus queue)."""

from __future__ import annotations

from celery import shared_task

from .consensus import box_consensus_pending, box_consensus_recompute
from .scheduler import box_leases_expire


@shared_task(name="boxes.tasks.box_consensus_recompute_task", acks_late=True)
def box_consensus_recompute_task(project_id: int, synset_id: str, kind: str) -> dict | None:
    summary = box_consensus_recompute(project_id=project_id, synset_id=synset_id, kind=kind)
    return None if summary is None else summary.__dict__


@shared_task(name="boxes.tasks.box_consensus_sweep")
def box_consensus_sweep() -> int:
    """Recompute every flagged synset and kind (catches enqueues lost to a broker outage)."""
    pending = box_consensus_pending()
    for project_id, synset_id, kind in pending:
        box_consensus_recompute(project_id=project_id, synset_id=synset_id, kind=kind)
    return len(pending)


@shared_task(name="boxes.tasks.box_leases_expire_task")
def box_leases_expire_task() -> int:
    return box_leases_expire()


@shared_task(name="boxes.tasks.box_images_sync_sweep")
def box_images_sync_sweep(limit: int = 2000) -> int:
    """Bring newly accepted images of every active project with box settings into the loop
    (bounded per project and run; the next run takes the rest)."""
    from labeling.models import Project

    from .services import box_images_sync

    added = 0
    for project in Project.objects.filter(active=True, box_settings__isnull=False).order_by("pk"):
        added += box_images_sync(project=project, limit=limit)
    return added

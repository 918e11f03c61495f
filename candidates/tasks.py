"""Celery tasks of the candidates app: thin wrappers over candidates.collection."""

from __future__ import annotations

from celery import shared_task

from .collection import collection_job_run


@shared_task(bind=True, acks_late=True, soft_time_limit=6 * 3600, time_limit=6 * 3600 + 60)
def collection_job_run_task(self, job_id: int) -> str:
    """Run or resume a collection job. Re-delivered after a worker dies (acks_late), and a rerun
    skips finished synsets and seen URLs, so nothing is stored twice."""
    return collection_job_run(job_id=job_id).status

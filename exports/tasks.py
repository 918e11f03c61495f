"""Celery task of the dataset export: a thin wrapper over ``export_job_run``."""

from __future__ import annotations

from celery import shared_task

from .service import export_job_run

# An export reads every accepted image once: far longer than the global 10-minute limit.
EXPORT_SOFT_TIME_LIMIT = 6 * 3600


@shared_task(
    bind=True, acks_late=True, soft_time_limit=EXPORT_SOFT_TIME_LIMIT,
    time_limit=EXPORT_SOFT_TIME_LIMIT + 60,
)  # fmt: skip
def export_job_run_task(self, job_id: int) -> None:
    """Run one export job (idempotent: a finished job is skipped, a rerun rewrites what changed)."""
    export_job_run(job_id=job_id)

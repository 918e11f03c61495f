"""The named interface through which candidates tells later pipeline stages about finished work.

candidates imports nothing downstream (labeling comes after it), so it does not know which
projects wait for its images. When a collection job ends — done, cancelled or failed, since each
may have stored candidates — ``collection_job_finished`` is sent; labeling connects a receiver
in ``LabelingConfig.ready`` that turns the stored candidates of every project covering the job's
synsets into items. This signal was chosen over a project id carried by the job: a job serves
synsets, not projects, and candidates stored for one project belong to any other project over
the same synsets. A failing receiver is logged, never raised: the candidates are stored, and
creating items again later is idempotent.
"""

from __future__ import annotations

import logging

from django.dispatch import Signal

logger = logging.getLogger(__name__)

# Keyword arguments: ``job_id`` (int), ``wnids`` (list of str), ``status`` (the job's status).
collection_job_finished = Signal()


def collection_job_finished_send(*, job_id: int, wnids: list[str], status: str) -> None:
    for receiver, result in collection_job_finished.send_robust(
        sender=None, job_id=job_id, wnids=wnids, status=status
    ):
        if isinstance(result, Exception):
            logger.error(
                "collection_job_finished receiver %r failed for job %s",
                receiver, job_id, exc_info=result,
            )  # fmt: skip

"""A collection job run by a real Celery worker over Redis, against PostgreSQL."""

from __future__ import annotations

import time

import pytest
from django.db import transaction

from candidates.collection import collection_job_create
from candidates.models import Candidate, CollectionJob
from tests.candidates.test_collection import SAMPLES
from tests.factories import SynsetFactory

pytestmark = [pytest.mark.celery_worker, pytest.mark.slow]


def _wait_for(job: CollectionJob, timeout: float = 60) -> CollectionJob:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job.refresh_from_db()
        if not job.is_active:
            return job
        time.sleep(0.2)
    pytest.fail(f"job {job.pk} still {job.status}")


def test_worker_runs_job_from_the_queue(celery_worker_process, tmp_path):
    celery_worker_process()
    synset = SynsetFactory()
    folder = tmp_path / "images"
    folder.mkdir()
    for index, path in enumerate(sorted(SAMPLES.glob("*.JPEG"))[:5]):
        (folder / f"{synset.wnid}_{index}.JPEG").write_bytes(path.read_bytes())
    with transaction.atomic():
        job = collection_job_create(
            wnids=[synset.wnid], source="folder", source_config={"root": str(folder)}
        )
    job = _wait_for(job)
    assert job.status == CollectionJob.Status.DONE, job.error
    assert job.stored == 5
    assert Candidate.objects.filter(synset=synset, status="stored").count() == 5

"""kill -9 of a Celery worker in the middle of a collection job and of a consensus recompute:
after a restart the task is delivered again (acks_late; Redis makes the unacked message visible
after the visibility timeout) and the job completes with nothing lost or stored twice."""

from __future__ import annotations

import contextlib
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import psycopg2
import pytest
from django.db import connection, transaction

from candidates.collection import collection_job_create
from candidates.models import Candidate, CollectionJob
from consensus.recompute import synset_recompute_consensus
from consensus.tasks import recompute_synset
from labeling.models import ProjectSynset
from tests.conftest import _database_url
from tests.factories import SynsetFactory, project_with_votes
from tests.faults.conftest import WORKER_VISIBILITY_TIMEOUT, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.celery_worker]

SAMPLES = Path("/work/shared/data/imagenet-samples")
SYNSETS = 3
IMAGES_PER_SYNSET = 8
# Each image takes this long to serve; with 8 download threads one synset's batch takes ~1 s.
SERVE_DELAY = 1.0


class _SlowImages(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, images: dict[str, bytes]):
        self.images = images
        self.requested: list[str] = []
        self.lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _SlowHandler)


class _SlowHandler(BaseHTTPRequestHandler):
    server: _SlowImages

    def log_message(self, *args):
        pass

    def do_GET(self):  # noqa: N802
        with self.server.lock:
            self.server.requested.append(self.path)
        body = self.server.images.get(self.path)
        time.sleep(SERVE_DELAY)
        if body is None:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "image/jpeg")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.wfile.write(body)


@pytest.fixture
def slow_image_server():
    photos = sorted(SAMPLES.glob("*.JPEG"))[: SYNSETS * IMAGES_PER_SYNSET]
    if len(photos) < SYNSETS * IMAGES_PER_SYNSET:
        pytest.skip(f"ImageNet samples missing from {SAMPLES}")
    images = {f"/img/{i}.jpg": path.read_bytes() for i, path in enumerate(photos)}
    server = _SlowImages(images)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _wait_job(job: CollectionJob, timeout: float) -> CollectionJob:
    def finished():
        job.refresh_from_db()
        return not job.is_active

    wait_until(finished, timeout=timeout, what=f"collection job {job.pk}", step=0.2)
    return job


def test_worker_killed_mid_collection_resumes_without_duplicates(
    fault_workers, slow_image_server, tmp_path
):
    # Given a URL list over 3 synsets, served slowly, and a running worker
    synsets = [SynsetFactory() for _ in range(SYNSETS)]
    base = f"http://127.0.0.1:{slow_image_server.server_address[1]}"
    lines = ["url,wnid"]
    url_of: dict[str, str] = {}
    for index in range(SYNSETS * IMAGES_PER_SYNSET):
        wnid = synsets[index // IMAGES_PER_SYNSET].wnid
        url_of[f"/img/{index}.jpg"] = wnid
        lines.append(f"{base}/img/{index}.jpg,{wnid}")
    url_list = tmp_path / "urls.csv"
    url_list.write_text("\n".join(lines) + "\n")
    worker = fault_workers.start()
    with transaction.atomic():
        job = collection_job_create(
            wnids=[s.wnid for s in synsets], source="urls", source_config={"path": str(url_list)}
        )

    # When the worker is killed with -9 while the second synset's batch is downloading
    second = synsets[1].wnid

    def second_batch_in_flight() -> bool:
        with slow_image_server.lock:
            requested = list(slow_image_server.requested)
        return any(url_of.get(path) == second for path in requested)

    wait_until(second_batch_in_flight, timeout=60, what="the second synset's downloads")
    fault_workers.kill(worker)
    job.refresh_from_db()
    assert job.status == CollectionJob.Status.RUNNING
    stored_at_kill = Candidate.objects.filter(job=job).count()
    assert stored_at_kill == IMAGES_PER_SYNSET  # the first batch committed, the second did not
    requested_at_kill = len(slow_image_server.requested)

    # ... and a new worker starts: the unacked task becomes visible again and is redelivered
    fault_workers.start()
    job = _wait_job(job, timeout=WORKER_VISIBILITY_TIMEOUT + 60)

    # Then the job completes with every image stored exactly once
    assert job.status == CollectionJob.Status.DONE, (job.error, fault_workers.tail())
    assert job.stored == SYNSETS * IMAGES_PER_SYNSET
    stored = Candidate.objects.filter(job=job, status=Candidate.Status.STORED)
    assert stored.count() == SYNSETS * IMAGES_PER_SYNSET
    assert Candidate.objects.filter(job=job).exclude(status=Candidate.Status.STORED).count() == 0
    for synset in synsets:
        assert stored.filter(synset=synset).count() == IMAGES_PER_SYNSET
    assert len(set(stored.values_list("image_url", flat=True))) == stored.count()
    # ... and the finished synset was not downloaded again
    first_paths = [p for p, w in url_of.items() if w == synsets[0].wnid]
    after_restart = slow_image_server.requested[requested_at_kill:]
    assert not set(first_paths) & set(after_restart)


def test_worker_killed_mid_recompute_gives_the_same_consensus(fault_workers):
    # Given a synset with votes and a worker; ten votes per image make every image reference data
    # for calibration (with fewer and no seed or gold, nothing is certified at τ = 0.95)
    project, project_synset = project_with_votes(images=60, workers=10, seed=3)
    worker = fault_workers.start()

    # When the recompute task is half-way (it has read the votes and blocks writing items,
    # because another session holds a lock on one of them) and the worker is killed with -9
    blocker = psycopg2.connect(_database_url(connection.settings_dict))
    try:
        with blocker.cursor() as cursor:
            cursor.execute(
                "SELECT id FROM labeling_item WHERE project_id = %s AND NOT is_gold "
                "ORDER BY id LIMIT 1 FOR UPDATE",
                [project.pk],
            )
            recompute_synset.delay(project_synset.pk)

            def task_blocked_on_lock() -> bool:
                with connection.cursor() as probe:
                    probe.execute(
                        "SELECT count(*) FROM pg_stat_activity WHERE datname = "
                        "current_database() AND wait_event_type = 'Lock'"
                    )
                    return probe.fetchone()[0] > 0

            wait_until(task_blocked_on_lock, timeout=30, what="the recompute to block")
            fault_workers.kill(worker)
    finally:
        blocker.rollback()
        blocker.close()
    project_synset.refresh_from_db()
    # The killed transaction never commits: no partial write is visible.
    assert project_synset.recomputed_at is None

    # ... and a new worker starts
    fault_workers.start()

    def recomputed() -> bool:
        project_synset.refresh_from_db()
        return project_synset.recomputed_at is not None

    wait_until(recomputed, timeout=WORKER_VISIBILITY_TIMEOUT + 60, what="the redelivered recompute")

    # Then the consensus is complete and identical to a fresh recompute (nothing left to change)
    again = synset_recompute_consensus(project_synset_id=project_synset.pk)
    assert again.changed == 0
    assert again.accepted + again.rejected + again.undecided > 0
    assert project_synset.accepted_count == again.accepted
    assert project_synset.rejected_count == again.rejected
    assert not ProjectSynset.objects.get(pk=project_synset.pk).needs_recompute

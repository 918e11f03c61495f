"""Redis stops while annotators submit: votes go to PostgreSQL, so submissions still succeed, fast;
the synset keeps its needs_recompute flag and the periodic sweep catches up once Redis is back."""

from __future__ import annotations

import time

import pytest
from rest_framework.test import APIClient

from consensus.recompute import synset_recompute_consensus
from consensus.tasks import recompute_pending_sweep, recompute_synset_later
from labeling.models import ProjectSynset, Vote
from labeling.roles import annotator_create
from tests.factories import project_make
from tests.faults.conftest import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.celery_worker]

# Publishing to a dead broker must fail within this budget, not hang the annotator's request.
PUBLISH_BUDGET_SECONDS = 3.0


def _submit_one_hit(client: APIClient, slug: str) -> tuple[int, int, float]:
    hit = client.post(f"/api/projects/{slug}/hits/next/", {}, format="json")
    assert hit.status_code == 200, hit.content
    ids = [item["id"] for item in hit.json()["items"]]
    started = time.monotonic()
    response = client.post(
        hit.json()["submit_url"],
        {"selected": ids[::2], "unselected": ids[1::2], "duration_ms": 20_000},
        format="json",
    )
    return response.status_code, len(ids), time.monotonic() - started


def test_publishing_to_a_dead_broker_fails_fast(db, private_redis):
    # Given the broker is down
    private_redis.stop()
    project = project_make(images=4)
    project_synset = ProjectSynset.objects.get(project=project)

    # When a recompute is enqueued
    started = time.monotonic()
    recompute_synset_later(project_synset.pk)
    elapsed = time.monotonic() - started
    print(f"enqueue with the broker down gave up after {elapsed:.2f}s")

    # Then the enqueue gives up quickly, swallowing the error, and the flag stays for the sweep
    assert elapsed < PUBLISH_BUDGET_SECONDS
    assert ProjectSynset.objects.get(pk=project_synset.pk).needs_recompute


def test_submissions_succeed_while_redis_is_down_and_recomputes_catch_up(
    fault_workers, private_redis
):
    # Given a project and three annotators, and Redis stopped
    project = project_make(images=30, images_per_hit=10, min_votes=1, max_votes=3)
    project_synset = ProjectSynset.objects.get(project=project)
    clients = []
    for n in range(3):
        client = APIClient()
        client.force_authenticate(annotator_create(username=f"ann-{n}", password=None))
        clients.append(client)
    private_redis.stop()

    # When each annotator submits a HIT
    recorded = 0
    for client in clients:
        status, votes, seconds = _submit_one_hit(client, project.slug)
        # Then every submission is accepted, without waiting on the broker
        assert status == 200
        assert seconds < PUBLISH_BUDGET_SECONDS + 2
        recorded += votes
    assert Vote.objects.filter(item__project=project).count() == recorded
    project_synset.refresh_from_db()
    assert project_synset.needs_recompute
    assert project_synset.recomputed_at is None

    # When Redis comes back, a worker runs, and beat fires the sweep
    private_redis.start()
    fault_workers.start()
    recompute_pending_sweep.delay()

    def caught_up() -> bool:
        project_synset.refresh_from_db()
        return project_synset.recomputed_at is not None and not project_synset.needs_recompute

    wait_until(caught_up, timeout=60, what="the sweep to recompute the synset")

    # Then the consensus reflects every vote (a fresh recompute changes nothing)
    assert synset_recompute_consensus(project_synset_id=project_synset.pk).changed == 0


def test_publishing_to_a_frozen_broker_fails_fast(db, private_redis):
    # Given the broker accepts connections but never answers (SIGSTOP: a hung Redis)
    import os
    import signal

    project = project_make(images=4)
    project_synset = ProjectSynset.objects.get(project=project)
    os.kill(private_redis.process.pid, signal.SIGSTOP)
    try:
        # When a recompute is enqueued
        started = time.monotonic()
        recompute_synset_later(project_synset.pk)
        elapsed = time.monotonic() - started
    finally:
        os.kill(private_redis.process.pid, signal.SIGCONT)
    print(f"enqueue with the broker frozen gave up after {elapsed:.2f}s")

    # Then the enqueue gives up within the budget and the flag stays for the sweep
    assert elapsed < PUBLISH_BUDGET_SECONDS * 2
    assert ProjectSynset.objects.get(pk=project_synset.pk).needs_recompute

"""A client that posts the same HIT 20 times at once (double clicks, retries, a buggy script)
through the real HTTP stack creates one set of votes and gets one answer, 20 times."""

from __future__ import annotations

import json
import threading
import urllib.request

import pytest
from django.conf import settings
from django.utils.crypto import get_random_string

from labeling.hits.scheduler import hit_next_for_worker
from labeling.models import Assignment, Item, Vote
from labeling.roles import annotator_create
from tests.factories import project_make, session_signed_in

pytestmark = pytest.mark.slow

CONCURRENT_POSTS = 20


def test_twenty_concurrent_submissions_of_one_hit_record_one_set_of_votes(
    live_server, private_redis
):
    # Given an annotator holding a HIT, signed in over HTTP with a CSRF token
    project = project_make(images=20, images_per_hit=10)
    worker = annotator_create(username="clicker", password=None)
    assignment = hit_next_for_worker(project=project, worker=worker)
    item_ids = sorted(assignment.items.values_list("pk", flat=True))
    csrf = get_random_string(32)
    cookie = f"{settings.SESSION_COOKIE_NAME}={session_signed_in(worker)}; csrftoken={csrf}"
    body = json.dumps(
        {"selected": item_ids[:4], "unselected": item_ids[4:], "duration_ms": 15_000}
    ).encode()
    url = f"{live_server.url}/api/assignments/{assignment.pk}/submit/"
    barrier = threading.Barrier(CONCURRENT_POSTS)
    results: list[tuple[int, bytes]] = []
    lock = threading.Lock()

    def post() -> None:
        request = urllib.request.Request(
            url, data=body, method="POST",
            headers={"Content-Type": "application/json", "Cookie": cookie, "X-CSRFToken": csrf},
        )  # fmt: skip
        barrier.wait(timeout=30)
        try:
            with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
                outcome = (response.status, response.read())
        except urllib.error.HTTPError as error:
            outcome = (error.code, error.read())
        with lock:
            results.append(outcome)

    # When the same submission is posted 20 times concurrently
    threads = [threading.Thread(target=post) for _ in range(CONCURRENT_POSTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=90)

    # Then every post gets the same 200 answer, and exactly one vote per image exists
    assert len(results) == CONCURRENT_POSTS
    assert {status for status, _ in results} == {200}, results[:3]
    answers = {json.dumps(json.loads(content), sort_keys=True) for _, content in results}
    assert len(answers) == 1
    assert Vote.objects.filter(assignment=assignment).count() == len(item_ids)
    assert Vote.objects.filter(worker=worker).count() == len(item_ids)
    assert Assignment.objects.get(pk=assignment.pk).status == Assignment.Status.SUBMITTED
    # ... and the scheduler's counters moved once per image, not 20 times
    for item in Item.objects.filter(pk__in=item_ids):
        assert item.yes_votes + item.no_votes == 1

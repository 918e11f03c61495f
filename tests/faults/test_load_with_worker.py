"""Thirty annotators label at once over the real HTTP stack, with the page's traffic (a HIT on
screen, the next one prefetched, submit, repeat), while a real Celery worker recomputes the
consensus after their submissions: no request fails, no recompute task dies (the probe of
issue 13 saw 503s and DeadlockDetected), and the scheduler's counters stay exact."""

from __future__ import annotations

import json
import random
import threading
import time
import urllib.error
import urllib.request
from collections import Counter

import pytest
from django.conf import settings
from django.utils.crypto import get_random_string

from labeling.models import Assignment, AssignmentItem, Item, ProjectSynset, Vote
from labeling.roles import annotator_create
from tests.factories import project_make, session_signed_in
from tests.faults.conftest import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.celery_worker]

ANNOTATORS = 30
HITS_EACH = 4


def _signed_in(user) -> tuple[str, str]:
    csrf = get_random_string(32)
    return f"{settings.SESSION_COOKIE_NAME}={session_signed_in(user)}; csrftoken={csrf}", csrf


class _Annotator:
    """One browser tab's traffic: next HIT (prefetching the following one), submit, repeat."""

    def __init__(self, base: str, slug: str, user, seed: int):
        self.base, self.slug = base, slug
        self.cookie, self.csrf = _signed_in(user)
        self.rng = random.Random(seed)  # noqa: S311 - simulated answers
        self.statuses: list[tuple[str, int]] = []

    def _post(self, path: str, body: dict) -> tuple[int, dict | None]:
        request = urllib.request.Request(
            self.base + path, data=json.dumps(body).encode(), method="POST",
            headers={"Content-Type": "application/json", "Cookie": self.cookie,
                     "X-CSRFToken": self.csrf, "Accept": "application/json"},
        )  # fmt: skip
        try:
            with urllib.request.urlopen(request, timeout=120) as response:  # noqa: S310
                status, content = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, content = error.code, error.read()
        return status, (json.loads(content) if content else None)

    def _next(self, exclude: list[int]) -> dict | None:
        status, hit = self._post(f"/api/projects/{self.slug}/hits/next/", {"exclude": exclude})
        self.statuses.append(("next", status))
        return hit if status == 200 else None

    def run(self, barrier: threading.Barrier, delay: float) -> None:
        barrier.wait(timeout=60)
        # Arrivals spread over a second and a half: the test server's listen queue holds ten
        # connections (gunicorn's holds 2048), and a refused connection is not what this tests.
        time.sleep(delay)
        try:
            self._label()
        except Exception as error:  # noqa: BLE001 - every failure is reported by the test
            self.statuses.append(("error", repr(error)))

    def _label(self) -> None:
        current = self._next([])
        for _ in range(HITS_EACH):
            if current is None:
                return
            following = self._next([current["id"]])  # the page prefetches while one is shown
            ids = [item["id"] for item in current["items"]]
            chosen = [pk for pk in ids if self.rng.random() < 0.5]
            status, _ = self._post(
                f"/api/assignments/{current['id']}/submit/",
                {"selected": chosen, "unselected": [pk for pk in ids if pk not in chosen],
                 "duration_ms": 20_000},
            )  # fmt: skip
            self.statuses.append(("submit", status))
            current = following


def test_thirty_annotators_with_prefetch_while_the_worker_recomputes(live_server, fault_workers):
    # Given a project of four synsets, a running Celery worker and thirty signed-in annotators
    project = project_make(synsets=4, images=120, gold=4, images_per_hit=12, gold_per_hit=2,
                           seed_size=0, min_votes=3, max_votes=5)  # fmt: skip
    fault_workers.start()
    annotators = [
        _Annotator(live_server.url, project.slug,
                   annotator_create(username=f"load{i}", password=None), seed=i)
        for i in range(ANNOTATORS)
    ]  # fmt: skip

    # When they all label at once
    barrier = threading.Barrier(ANNOTATORS)
    threads = [
        threading.Thread(target=a.run, args=(barrier, i * 0.05)) for i, a in enumerate(annotators)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not any(thread.is_alive() for thread in threads)

    # Then no request failed: every next-HIT answered 200 (or 204 when nothing was left) and
    # every submission was saved
    statuses = Counter(s for a in annotators for s in a.statuses)
    assert {status for (_, status) in statuses} <= {200, 204}, statuses
    submits = statuses[("submit", 200)]
    assert submits >= ANNOTATORS * 2, statuses
    assert Assignment.objects.filter(status=Assignment.Status.SUBMITTED).count() == submits

    # ... the worker recomputed every synset after the last submission, and no task died
    def recomputed() -> bool:
        return not ProjectSynset.objects.filter(project=project, needs_recompute=True).exists()

    wait_until(recomputed, timeout=120, what="the worker to recompute every synset", step=0.5)
    assert ProjectSynset.objects.filter(project=project, recomputed_at__isnull=True).count() == 0
    log = fault_workers.tail(200_000)
    assert "Deadlock" not in log and "Traceback" not in log, log[-3000:]

    # ... and the counters are exact: counted votes per image, leases per image
    # (random answers fail gold, so some annotators are blocked on the way and their votes
    # withdrawn: that path runs under load too)
    votes = Counter(
        Vote.objects.filter(item__project=project, status=Vote.Status.CONFIRMED).values_list(
            "item_id", flat=True
        )
    )
    live = Counter(
        AssignmentItem.objects.filter(
            assignment__project=project, assignment__status=Assignment.Status.LEASED,
            is_gold=False,
        ).values_list("item_id", flat=True)
    )  # fmt: skip
    for pk, yes, no, leases in Item.objects.filter(project=project, is_gold=False).values_list(
        "pk", "yes_votes", "no_votes", "active_leases"
    ):
        assert yes + no == votes[pk], pk
        assert leases == live[pk], pk

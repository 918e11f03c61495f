"""Issue 13 finding 2: forged MTurk ids cannot hold a project's images.

Nine rounds of forged ``GET /crowds/mturk/hit/?hitId=…&assignmentId=<random>&workerId=<random>``
plus a submit once leased every open vote slot for a day (pending votes kept their leases until
CROWDS_PENDING_TIMEOUT_SECONDS), and every forged worker id left an account behind. Now: a HIT
leases only while it is open and for no more live assignments than its slots; pending votes give
their leases back at once; the pages are rate-limited per address; accounts MTurk never vouched
for are deleted with their discarded assignments.
"""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.db.models import Sum
from django.test import Client
from django.urls import reverse
from rest_framework import throttling

from crowds.models import CrowdAssignment, CrowdHIT
from crowds.mturk import _pending_expire
from labeling.hits.scheduler import hit_next_for_worker
from labeling.models import Item, Vote
from labeling.roles import annotator_create

pytestmark = pytest.mark.django_db
SANDBOX = "https://workersandbox.mturk.com"


def _url(hit, assignment: str, worker: str) -> str:
    return reverse("crowds:mturk-hit") + (
        f"?assignmentId={assignment}&hitId={hit.hit_id}&workerId={worker}&turkSubmitTo={SANDBOX}"
    )


def _leased(project) -> int:
    return Item.objects.filter(project=project).aggregate(n=Sum("active_leases"))["n"] or 0


def test_a_hit_leases_no_more_live_assignments_than_its_slots(published_hit):
    CrowdHIT.objects.filter(pk=published_hit.pk).update(max_assignments=2)
    published_hit.refresh_from_db()
    client = Client()
    statuses = [client.get(_url(published_hit, f"FORGED{n:04d}", f"AFAKE{n}")).status_code
                for n in range(5)]  # fmt: skip
    assert statuses == [200, 200, 409, 409, 409]
    assert CrowdAssignment.objects.count() == 2
    # The refused visits created no account either.
    assert get_user_model().objects.filter(username__startswith="mturk:").count() == 2
    # Reloading an accepted assignment still works (it holds its slot already).
    assert client.get(_url(published_hit, "FORGED0000", "AFAKE0")).status_code == 200


@pytest.mark.parametrize("closed", ["hit_expired", "publication_closed", "project_inactive"])
def test_a_closed_hit_leases_nothing(published_hit, closed):
    if closed == "hit_expired":
        CrowdHIT.objects.filter(pk=published_hit.pk).update(status=CrowdHIT.Status.EXPIRED)
    elif closed == "publication_closed":
        published_hit.publication.status = "closed"
        published_hit.publication.save(update_fields=["status"])
    else:
        published_hit.project.active = False
        published_hit.project.save(update_fields=["active"])
    published_hit.refresh_from_db()
    response = Client().get(_url(published_hit, "FORGED0001", "AFAKE1"))
    assert response.status_code == 409 and b"closed" in response.content
    assert not CrowdAssignment.objects.exists()
    assert not get_user_model().objects.filter(username__startswith="mturk:").exists()
    assert _leased(published_hit.project) == 0


def test_pending_votes_give_their_leases_back_at_once(published_hit):
    project = published_hit.project
    client = Client(enforce_csrf_checks=True)
    page = client.get(_url(published_hit, "FORGED0001", "AFAKE1"))
    token = re.search(r'name="token" value="([^"]+)"', page.content.decode()).group(1)
    assert _leased(project) > 0

    client.post(reverse("crowds:mturk-submit"), {"token": token, "selected": "",
                                                 "duration_ms": "9000"})  # fmt: skip

    assert set(Vote.objects.values_list("status", flat=True)) == {Vote.Status.PENDING}
    assert _leased(project) == 0  # not held until MTurk confirms (up to a day later)
    # A real annotator gets those images now.
    annotator = annotator_create(username="real", password=None, projects=[project])
    forged_items = set(Vote.objects.values_list("item_id", flat=True))
    assignment = hit_next_for_worker(project=project, worker=annotator)
    assert assignment is not None
    assert forged_items & set(assignment.assignment_items.values_list("item_id", flat=True))


def test_the_mturk_pages_are_rate_limited_per_address(published_hit, monkeypatch):
    rates = {**throttling.SimpleRateThrottle.THROTTLE_RATES, "crowd_anon": "3/min"}
    monkeypatch.setattr(throttling.SimpleRateThrottle, "THROTTLE_RATES", rates)
    client = Client()
    statuses = [client.get(_url(published_hit, f"FORGED{n:04d}", f"AFAKE{n}")).status_code
                for n in range(4)]  # fmt: skip
    assert statuses[:3] != [429, 429, 429] and statuses[3] == 429
    post = client.post(reverse("crowds:mturk-submit"), {"token": "x"})
    assert post.status_code == 429
    # Another address is not held back by this one.
    other = Client(REMOTE_ADDR="192.0.2.7")
    assert other.get(_url(published_hit, "FORGED0009", "AFAKE9")).status_code != 429


def test_accounts_mturk_never_vouched_for_are_deleted(published_hit, settings):
    client = Client(enforce_csrf_checks=True)
    page = client.get(_url(published_hit, "FORGED0001", "AFAKE1"))
    token = re.search(r'name="token" value="([^"]+)"', page.content.decode()).group(1)
    client.post(reverse("crowds:mturk-submit"), {"token": token, "selected": "",
                                                 "duration_ms": "9000"})  # fmt: skip
    client.get(_url(published_hit, "FORGED0002", "AFAKE2"))  # opened, never submitted
    users = get_user_model().objects.filter(username__startswith="mturk:")
    assert users.count() == 2

    settings.CROWDS_PENDING_TIMEOUT_SECONDS = 0
    _pending_expire(publication=published_hit.publication)  # discards both, keeps the records
    assert users.count() == 2
    assert set(Vote.objects.values_list("status", flat=True)) == {Vote.Status.EXCLUDED}
    _pending_expire(publication=published_hit.publication)  # one timeout after the discard

    assert not users.exists()
    assert not Vote.objects.exists()
    assert _leased(published_hit.project) <= published_hit.project.images_per_hit  # 2nd lease

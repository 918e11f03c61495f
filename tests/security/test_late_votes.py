"""Issue 13 finding 7: a submission just after its lease ran out was accepted when *any* image
still needed votes, and every image's ``votes_needed`` was decremented and silently clamped at
zero by ``Greatest(…, 0)``. Now the votes count only for the images that still need them; the
rest are kept as extra evidence, and the assignment says how many there were."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from labeling.hits.scheduler import hit_next_for_worker, leases_expire
from labeling.models import Assignment, Item, Vote, WorkerProfile
from labeling.roles import annotator_create
from labeling.votes import votes_count
from tests.labeling.project_factories import project_make

pytestmark = pytest.mark.django_db


def test_a_late_submission_counts_only_for_images_that_still_need_votes():
    project = project_make(images=4, images_per_hit=4, gold_per_hit=0, min_votes=1, max_votes=3)
    worker = annotator_create(username="late", password=None, projects=[project])
    assignment = hit_next_for_worker(project=project, worker=worker)
    entries = assignment.assignment_items.order_by("position")
    items = list(entries.values_list("item_id", flat=True))
    # The lease runs out; meanwhile three of the four images got their needed vote elsewhere.
    Assignment.objects.filter(pk=assignment.pk).update(
        lease_expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert leases_expire() == 1
    Item.objects.filter(pk__in=items[1:]).update(votes_needed=0)

    client = Client()
    client.force_login(worker)
    response = client.post(
        reverse("api-assignment-submit", args=[assignment.pk]),
        {"selected": items[:2], "unselected": items[2:], "duration_ms": 9000},
        content_type="application/json",
    )

    assert response.status_code == 200  # the worker's effort on the open image is real
    rows = {item.pk: item for item in Item.objects.filter(pk__in=items)}
    assert rows[items[0]].votes_needed == 0  # counted: it needed this vote
    assert all(rows[pk].votes_needed == 0 for pk in items[1:])
    assert all(rows[pk].active_leases == 0 for pk in items)
    # Every answer is kept as evidence (stored, in the yes/no counts)...
    assert Vote.objects.filter(assignment=assignment).count() == 4
    assert [rows[pk].yes_votes for pk in items] == [1, 1, 0, 0]
    assert [rows[pk].no_votes for pk in items] == [0, 0, 1, 1]
    # ... and the three that were not needed are said to be extra, not silently clamped.
    assignment.refresh_from_db()
    assert assignment.result["_extra_votes"] == 3


def test_the_vote_core_never_decrements_an_image_that_needs_no_vote():
    project = project_make(images=4, images_per_hit=4, gold_per_hit=0, min_votes=1)
    worker = annotator_create(username="core", password=None, projects=[project])
    assignment = hit_next_for_worker(project=project, worker=worker)
    items = list(assignment.assignment_items.values_list("item_id", flat=True))
    # A decided image keeps a stale votes_needed: a vote on it must not move that number.
    Item.objects.filter(pk=items[0]).update(state=Item.State.ACCEPTED, votes_needed=2)
    profile, _ = WorkerProfile.objects.get_or_create(user=worker)
    locked = {item.pk: item for item in Item.objects.filter(pk__in=items)}
    tally = votes_count(
        assignment=assignment, project=project, profile=profile, items=locked, gold_ids=set(),
        labels={pk: True for pk in items}, counted=True, lease_held=True, duration_ms=9000,
    )  # fmt: skip
    assert tally.extra_votes == 1
    decided = Item.objects.get(pk=items[0])
    assert decided.votes_needed == 2 and decided.yes_votes == 1
    assert set(Item.objects.filter(pk__in=items[1:]).values_list("votes_needed", flat=True)) == {0}

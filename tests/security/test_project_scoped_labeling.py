"""Issue 13 finding 1: who may label which project.

A panel link once made its visitor a member of the global ``annotators`` group, so that session
labelled every project through /label/ with votes confirmed at once (bypassing the panel's quota
and payment rows, and MTurk's pending-until-confirmed rule). Now a participant labels only their
panel's project through the panel flow; a built-in annotator only projects they were invited to
or that are open to all annotators; an MTurk worker account only through MTurk's flow.
"""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from crowds.assignments import crowd_worker_get_or_create
from crowds.models import CrowdPayment
from crowds.panels import panel_configure
from labeling.hits.scheduler import hit_next_for_worker
from labeling.invites import invite_create
from labeling.models import Assignment, Project, Vote
from labeling.permissions import can_label
from labeling.roles import annotator_create, is_annotator
from tests.labeling.project_factories import project_make

pytestmark = pytest.mark.django_db


@pytest.fixture
def panel():
    project = project_make(images=20, images_per_hit=4, gold=0, gold_per_hit=0, min_votes=2,
                           name="Panel project")  # fmt: skip
    project.budget_cents, project.crowd_backend = 1000, "panel"
    project.save(update_fields=["budget_cents", "crowd_backend"])
    return panel_configure(project=project, completion_code="C0DE42", hits_per_participant=1,
                           reward_cents_per_hit=20)  # fmt: skip


@pytest.fixture
def other_project():
    return project_make(images=12, images_per_hit=4, name="Someone else's project",
                        open_to_all_annotators=True)  # fmt: skip


def _participant_client(panel, pid="anything") -> Client:
    client = Client()
    response = client.get(reverse("crowds:panel-entry", args=[panel.token])
                          + f"?PROLIFIC_PID={pid}")  # fmt: skip
    assert response.status_code == 302
    return client


def test_a_panel_participant_is_not_an_annotator_of_any_project(panel, other_project):
    client = _participant_client(panel)
    user = get_user_model().objects.get(username__startswith=f"panel{panel.pk}:")
    assert not is_annotator(user)
    for project in (other_project, panel.project):
        assert client.get(reverse("labeling:grid", args=[project.slug])).status_code == 403
        hit = client.post(reverse("api-hit-next", args=[project.slug]), {},
                          content_type="application/json")  # fmt: skip
        assert hit.status_code == 403
    assert not Assignment.objects.filter(project=other_project).exists()


def test_a_panel_vote_cannot_bypass_the_panel_through_the_worker_api(panel):
    client = _participant_client(panel)
    page = client.get(reverse("crowds:panel-work", args=[panel.token])).content.decode()
    assignment_id = int(re.search(r'name="assignment" value="(\d+)"', page).group(1))
    assignment = Assignment.objects.get(pk=assignment_id)
    items = list(assignment.assignment_items.values_list("item_id", flat=True))

    response = client.post(
        reverse("api-assignment-submit", args=[assignment_id]),
        {"selected": items, "unselected": [], "duration_ms": 9000},
        content_type="application/json",
    )

    assert response.status_code == 403
    assert not Vote.objects.filter(assignment_id=assignment_id).exists()
    # The panel's own flow still records the vote and the payment row.
    client.post(reverse("crowds:panel-work", args=[panel.token]),
                {"assignment": assignment_id, "selected": str(items[0]),
                 "duration_ms": "9000"})  # fmt: skip
    assert Vote.objects.filter(assignment_id=assignment_id).count() == len(items)
    assert CrowdPayment.objects.filter(crowd_assignment__assignment_id=assignment_id).count() == 1


def test_a_participant_past_their_quota_gets_no_more_work_anywhere(panel, other_project):
    client = _participant_client(panel)
    page = client.get(reverse("crowds:panel-work", args=[panel.token])).content.decode()
    assignment_id = re.search(r'name="assignment" value="(\d+)"', page).group(1)
    client.post(reverse("crowds:panel-work", args=[panel.token]),
                {"assignment": assignment_id, "selected": "", "duration_ms": "9000"})  # fmt: skip
    # Quota (1 HIT) done: the panel page says done, and /label/ gives nothing either.
    assert client.get(reverse("crowds:panel-work", args=[panel.token])).status_code == 302
    for project in (panel.project, other_project):
        hit = client.post(reverse("api-hit-next", args=[project.slug]), {},
                          content_type="application/json")  # fmt: skip
        assert hit.status_code == 403
    assert Assignment.objects.filter(worker__username__startswith="panel").count() == 1


def test_an_mturk_worker_account_is_no_annotator():
    project = project_make(images=8, images_per_hit=4, open_to_all_annotators=True)
    worker = crowd_worker_get_or_create(username="mturk:AFORGED123")
    assert not is_annotator(worker)
    assert not can_label(worker, project)


def test_built_in_annotators_label_only_invited_or_open_projects(other_project):
    closed = project_make(images=12, images_per_hit=4, name="Invite only",
                          open_to_all_annotators=False)
    # The default for a new project: invited annotators only.
    assert Project._meta.get_field("open_to_all_annotators").default is False
    annotator = annotator_create(username="ann-closed", password="pw-ann-closed-123")
    client = Client()
    client.force_login(annotator)

    assert client.get(reverse("labeling:grid", args=[closed.slug])).status_code == 403
    refused = client.post(reverse("api-hit-next", args=[closed.slug]), {},
                          content_type="application/json")  # fmt: skip
    assert refused.status_code == 403
    # A project open to all annotators is fine without an invite.
    assert client.get(reverse("labeling:grid", args=[other_project.slug])).status_code == 200

    # Following an invite link while signed in asks, then records membership on POST.
    token = invite_create(project=closed)
    page = client.get(reverse("labeling:invite", args=[token]))
    assert page.status_code == 200 and b"Join this project" in page.content
    assert client.get(reverse("labeling:grid", args=[closed.slug])).status_code == 403
    joined = client.post(reverse("labeling:invite", args=[token]))
    assert joined.status_code == 302
    assert client.get(reverse("labeling:grid", args=[closed.slug])).status_code == 200


def test_an_invite_sign_up_admits_to_that_project_only(other_project):
    closed = project_make(images=12, images_per_hit=4, name="Invite only A",
                          open_to_all_annotators=False)
    elsewhere = project_make(images=12, images_per_hit=4, name="Invite only B",
                             open_to_all_annotators=False)
    client = Client()
    token = invite_create(project=closed)
    response = client.post(reverse("labeling:invite", args=[token]), {
        "username": "newcomer", "password1": "a-Long-pass-9876", "password2": "a-Long-pass-9876",
    })  # fmt: skip
    assert response.status_code == 302
    assert client.get(reverse("labeling:grid", args=[closed.slug])).status_code == 200
    assert client.get(reverse("labeling:grid", args=[elsewhere.slug])).status_code == 403


def test_a_removed_annotator_cannot_submit_a_held_hit():
    closed = project_make(images=12, images_per_hit=4, name="Held",
                          open_to_all_annotators=False)
    annotator = annotator_create(username="held", password=None, projects=[closed])
    assignment = hit_next_for_worker(project=closed, worker=annotator)
    closed.members.filter(user=annotator).delete()
    client = Client()
    client.force_login(annotator)
    items = list(assignment.assignment_items.values_list("item_id", flat=True))
    response = client.post(reverse("api-assignment-submit", args=[assignment.pk]),
                           {"selected": items, "unselected": [], "duration_ms": 9000},
                           content_type="application/json")  # fmt: skip
    assert response.status_code == 403
    assert not Vote.objects.filter(assignment=assignment).exists()


def test_a_signed_in_user_without_a_role_sees_no_labelling_image(other_project):
    nobody = get_user_model().objects.create_user(username="nobody", password="pw-nobody-123")
    client = Client()
    client.force_login(nobody)
    candidate_id = other_project.items.first().candidate_id
    assert client.get(reverse("labeling:image", args=[candidate_id])).status_code == 403
    assert client.get(reverse("labeling:thumbnail", args=[candidate_id])).status_code == 403

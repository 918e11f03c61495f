"""Issue 13 finding 9: only a project's owners and superusers change it — crowd settings, publish,
panel and close (POST /crowds/projects/<slug>/), worker blocking, exports and audits from the
dashboards, the project API. Other staff read the same pages."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from crowds.models import PanelConfig
from dashboards.models import AuditRun
from exports.models import ExportJob
from labeling.models import Project, WorkerProfile

pytestmark = pytest.mark.django_db

CROWD_POSTS = [
    {"action": "settings", "crowd_backend": "panel", "budget_dollars": "999"},
    {"action": "panel", "participant_param": "PROLIFIC_PID", "hits_per_participant": "5",
     "reward_cents_per_hit": "5", "fee_percent": "0", "completion_code": "HIJACK"},
    {"action": "close"},
    {"action": "publish", "reward_cents": "5", "assignments_per_hit": "3", "keywords": "x"},
    {"action": "sync"},
]  # fmt: skip


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize("data", CROWD_POSTS, ids=[d["action"] for d in CROWD_POSTS])
def test_staff_who_do_not_own_a_project_cannot_change_its_crowd(world, data):
    project = world["project"]
    client = _client(world["other_admin"])
    url = reverse("crowds:project", args=[project.slug])
    assert client.get(url).status_code == 200  # staff read
    response = client.post(url, data)
    assert response.status_code == 403
    project.refresh_from_db()
    assert project.crowd_backend == "builtin" and project.budget_cents is None
    assert not PanelConfig.objects.filter(project=project).exists()


def test_the_owner_changes_the_crowd_settings(world):
    project = world["project"]
    response = _client(world["owner"]).post(
        reverse("crowds:project", args=[project.slug]),
        {"action": "settings", "crowd_backend": "panel", "budget_dollars": "12"},
    )
    assert response.status_code == 302
    project.refresh_from_db()
    assert project.crowd_backend == "panel" and project.budget_cents == 1200


def test_superusers_change_any_project(world):
    root = get_user_model().objects.create_superuser(username="root", password="pw-root-123")
    response = _client(root).post(
        reverse("crowds:project", args=[world["project"].slug]),
        {"action": "settings", "crowd_backend": "builtin", "budget_dollars": "3"},
    )
    assert response.status_code == 302
    assert Project.objects.get(pk=world["project"].pk).budget_cents == 300


def test_staff_who_do_not_own_a_project_cannot_block_its_workers(world):
    project, annotator = world["project"], world["annotator"]
    client = _client(world["other_admin"])
    assert client.get(reverse("dashboards:workers", args=[project.slug])).status_code == 200
    for name in ("dashboards:worker-block", "dashboards:worker-unblock"):
        response = client.post(reverse(name, args=[project.slug, annotator.pk]),
                               {"reason": "spite", "confirmed": "yes"})  # fmt: skip
        assert response.status_code == 403
    assert not WorkerProfile.objects.filter(user=annotator, blocked=True).exists()


def test_an_owner_blocks_only_workers_of_their_own_project(world):
    owner, annotator = world["owner"], world["annotator"]
    client = _client(owner)
    # The annotator never worked in "Other project": its owner's page cannot reach them, and
    # this owner cannot use the other project's page either.
    other = world["other_project"]
    response = client.post(reverse("dashboards:worker-block", args=[other.slug, annotator.pk]),
                           {"reason": "x", "confirmed": "yes"})  # fmt: skip
    assert response.status_code == 403
    response = client.post(
        reverse("dashboards:worker-block", args=[world["project"].slug, annotator.pk]),
        {"reason": "gold answers at chance", "confirmed": "yes"},
    )
    assert response.status_code == 302
    assert WorkerProfile.objects.get(user=annotator).blocked


def test_staff_who_do_not_own_a_project_start_no_export_or_audit(world):
    project = world["project"]
    client = _client(world["other_admin"])
    export = client.post(reverse("dashboards:exports", args=[project.slug]),
                         {"format": "imagenet", "val_fraction": "0"})  # fmt: skip
    audit = client.post(reverse("dashboards:audits", args=[project.slug]),
                        {"synsets_per_depth": "1", "images_per_synset": "1"})  # fmt: skip
    assert export.status_code == 403 and audit.status_code == 403
    assert not ExportJob.objects.filter(project=project).exists()
    assert not AuditRun.objects.filter(project=project).exists()

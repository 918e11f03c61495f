"""Dashboards, audits and exports are for admins (staff) only: anonymous visitors are sent to log
in, annotators get 403 on every page, form and JSON endpoint."""

from __future__ import annotations

import pytest
from django.urls import reverse

from dashboards.audit.services import audit_run_create
from exports.models import ExportJob
from tests.factories import voted_project

pytestmark = pytest.mark.django_db


@pytest.fixture
def setup(admin_user):
    project, workers = voted_project(synsets=1, images=4)
    run = audit_run_create(project=project, created_by=admin_user, images_per_synset=2)
    job = ExportJob.objects.create(project=project, status=ExportJob.Status.DONE)
    wnid = project.project_synsets.first().synset_id
    slug = project.slug
    pages = [
        ("get", reverse("dashboards:index")),
        ("get", reverse("dashboards:project", args=[slug])),
        ("get", reverse("dashboards:synset", args=[slug, wnid])),
        ("get", reverse("dashboards:workers", args=[slug])),
        ("post", reverse("dashboards:worker-block", args=[slug, workers[0].pk])),
        ("post", reverse("dashboards:worker-unblock", args=[slug, workers[0].pk])),
        ("get", reverse("dashboards:exports", args=[slug])),
        ("post", reverse("dashboards:exports", args=[slug])),
        ("get", reverse("dashboards:export-download", args=[slug, job.pk])),
        ("get", reverse("dashboards:audits", args=[slug])),
        ("post", reverse("dashboards:audits", args=[slug])),
        ("get", reverse("dashboards:audit", args=[slug, run.pk])),
        ("get", reverse("dashboards:audit-review", args=[slug, run.pk])),
    ]
    apis = [
        ("get", reverse("api-export-status", args=[job.pk])),
        ("post", reverse("api-audit-next", args=[run.pk])),
        ("post", reverse("api-audit-submit", args=[run.pk])),
        ("get", reverse("api-audit-stats", args=[run.pk])),
    ]
    return {"pages": pages, "apis": apis, "run": run}


def test_anonymous_is_sent_to_log_in_on_every_page(client, setup):
    for method, url in setup["pages"]:
        response = getattr(client, method)(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("login")), url


def test_anonymous_gets_401_from_every_json_endpoint(client, setup):
    for method, url in setup["apis"]:
        assert getattr(client, method)(url).status_code == 401, url


def test_annotator_gets_403_everywhere(client, annotator, setup):
    client.force_login(annotator)
    for method, url in setup["pages"] + setup["apis"]:
        assert getattr(client, method)(url).status_code == 403, url
    # Nothing was written on the annotator's behalf.
    assert not setup["run"].samples.filter(correct__isnull=False).exists()


def test_admin_sees_every_page(client, admin_user, setup):
    client.force_login(admin_user)
    for method, url in setup["pages"]:
        if method == "get" and "download" not in url:
            assert client.get(url).status_code == 200, url
    for method, url in setup["apis"]:
        if method == "get":
            assert client.get(url).status_code == 200, url


def test_forms_need_a_csrf_token(admin_user, setup):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)
    for method, url in setup["pages"] + setup["apis"]:
        if method == "post":
            assert client.post(url).status_code == 403, url

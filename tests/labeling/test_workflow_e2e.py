"""The whole project path through the REST API with a token, as a script runs it, against a real
Celery worker on Redis and PostgreSQL: create a project over a subtree → upload a URL list
served by a local HTTP server on 127.0.0.1 → the worker runs the job → items exist without
anyone asking → gold proposed from the seed votes and reviewed, and added by hand."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from labeling.models import Item
from synsets.models import SynsetClosure, SynsetEdge
from tests.factories import SynsetFactory
from tests.labeling.workflow_helpers import SAMPLES, photo_server

pytestmark = [pytest.mark.celery_worker, pytest.mark.slow]


@pytest.fixture
def shared_upload_dir(tmp_path, monkeypatch, settings) -> Path:
    """Uploaded lists go where the worker process reads them (set before it starts)."""
    folder = tmp_path / "uploads"
    monkeypatch.setenv("CANDIDATES_UPLOAD_DIR", str(folder))
    settings.CANDIDATES_UPLOAD_DIR = folder
    return folder


def _wait(predicate, what: str, timeout: float = 120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.3)
    pytest.fail(f"timed out waiting for {what}")


def test_a_script_drives_project_collection_and_gold_through_the_api(
    shared_upload_dir, celery_worker_process, django_user_model
):
    # Given a small subtree (root → two leaves) and a staff user's token.
    celery_worker_process()
    root, leaf_a, leaf_b = SynsetFactory(), SynsetFactory(), SynsetFactory()
    stranger = SynsetFactory()  # a synset of no project
    for leaf in (leaf_a, leaf_b):
        SynsetEdge.objects.create(parent=root, child=leaf, kind="hypernym")
        SynsetClosure.objects.create(ancestor=root, descendant=leaf, distance=1)
    user = django_user_model.objects.create_user(username="script", is_staff=True)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")

    # When the script creates the project ...
    body = {"name": "Scripted", "slug": "scripted", "synsets": [root.wnid], "seed_size": 3}
    created = api.post("/api/projects/", body, format="json")
    assert created.status_code == 201, created.content
    assert sorted(created.json()["synsets"]) == sorted([root.wnid, leaf_a.wnid, leaf_b.wnid])

    # ... and uploads a URL list naming the leaves (and one synset outside the project).
    photos = sorted(SAMPLES.glob("*.JPEG"))[:11]
    owners = [leaf_a.wnid] * 5 + [leaf_b.wnid] * 5 + [stranger.wnid]
    with photo_server() as base:
        lines = ["url,wnid"] + [f"{base}/{p.name},{w}" for p, w in zip(photos, owners, strict=True)]
        upload = ("\n".join(lines) + "\n").encode()
        response = api.post(
            "/api/projects/scripted/collect/",
            {"source": "urls", "wnids": [root.wnid],
             "url_list": SimpleUploadedFile("dogs.csv", upload)},
            format="multipart",
        )  # fmt: skip
        assert response.status_code == 201, response.content
        job_url = f"/api/collection-jobs/{response.json()['id']}/"

        # Then the worker runs the job to its end ...
        job = _wait(lambda: (j := api.get(job_url).json())["status"] in {"done", "failed"} and j,
                    "the collection job", timeout=180)  # fmt: skip
    assert job["status"] == "done", (job["error"], celery_worker_process.log.read_text()[-3000:])
    assert job["stored"] == 10
    assert job["source_report"]["unmatched_count"] == 1
    assert job["source_report"]["unmatched_by_wnid"] == {stranger.wnid: 1}

    # ... and its images became items without anyone asking (the worker's receiver).
    items = _wait(lambda: Item.objects.filter(project__slug="scripted").count() == 10,
                  "items from the finished job")  # fmt: skip
    assert items
    detail = api.get("/api/projects/scripted/gold/").json()
    assert detail["summary"]["agreement_only"] is True

    # Gold: a seed image that 10 workers agreed on is proposed (the votes stand in for a crowd)
    seed = Item.objects.filter(project__slug="scripted", is_seed=True).order_by("pk").first()
    Item.objects.filter(pk=seed.pk).update(yes_votes=10, no_votes=0)
    proposals = api.get("/api/projects/scripted/gold/proposals/").json()
    assert [(p["id"], p["proposed"]) for p in proposals] == [(seed.pk, True)]
    batch = api.post("/api/projects/scripted/gold/next/", {}, format="json").json()
    reviewed = api.post(batch["submit_url"], {"yes": [batch["items"][0]["id"]]}, format="json")
    assert reviewed.json() == {"gold_yes": 1, "gold_no": 0, "skipped": 0}

    # ... and any other image can be made gold by hand.
    other = api.post("/api/projects/scripted/gold/next/", {"mode": "items"}, format="json").json()
    first = other["items"][0]["id"]
    assert api.post(other["submit_url"], {"no": [first]}, format="json").status_code == 200
    summary = api.get("/api/projects/scripted/gold/").json()["summary"]
    assert (summary["gold"], summary["gold_yes"], summary["gold_no"]) == (2, 1, 1)
    assert summary["agreement_only"] is False

"""The box API over HTTP: next task, draw, bad input answered with a clear 400/409 and nothing
stored, replays, verification, progress for staff."""

from __future__ import annotations

import pytest
from django.db.models import Sum

from boxes.models import Box, BoxAssignment, BoxVote
from tests.boxes.factories import boxed_project, workers

pytestmark = pytest.mark.django_db


def _client(api_client, user):
    api_client.force_authenticate(user)
    return api_client


def _next(client, project, kind):
    return client.post(f"/api/projects/{project.slug}/boxes/next/", {"kind": kind}, format="json")


def test_draw_through_the_api_and_replay(api_client):
    project = boxed_project(images=1)
    (drawer,) = workers(1)
    client = _client(api_client, drawer)
    response = _next(client, project, "draw")
    assert response.status_code == 200
    payload = response.json()
    task = payload["tasks"][0]
    assert (task["width"], task["height"]) == (96, 72)
    assert task["boxes"] == []
    body = {"task": task["id"], "box": {"x": 3, "y": 4, "w": 30, "h": 20}, "duration_ms": 1000}
    first = client.post(payload["submit_url"], body, format="json")
    assert first.status_code == 200, first.content
    again = client.post(payload["submit_url"], body, format="json")
    assert again.json() == first.json()
    assert Box.objects.count() == 1
    other = {**body, "box": {"x": 4, "y": 4, "w": 30, "h": 20}}
    refused = client.post(payload["submit_url"], other, format="json")
    assert refused.status_code == 409
    assert refused.json()["code"] == "already_submitted"
    assert Box.objects.get().x == 3


@pytest.mark.parametrize(
    ("box", "detail"),
    [
        ({"x": 90, "y": 0, "w": 20, "h": 20}, "inside the image"),
        ({"x": 0, "y": 0, "w": 1, "h": 1}, "too small"),
        ("not a box", "an object with x, y, w and h"),
    ],
)
def test_malformed_box_gets_a_clear_400(api_client, box, detail):
    project = boxed_project(images=1)
    (drawer,) = workers(1)
    client = _client(api_client, drawer)
    payload = _next(client, project, "draw").json()
    response = client.post(
        payload["submit_url"],
        {"task": payload["tasks"][0]["id"], "box": box, "duration_ms": 5},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["code"] == "malformed_box"
    assert detail in response.json()["detail"]
    assert not Box.objects.exists()


def test_box_for_an_image_not_in_the_task_gets_a_400(api_client):
    project = boxed_project(images=2)
    first, second = workers(2)
    mine = _next(_client(api_client, first), project, "draw").json()
    from rest_framework.test import APIClient

    theirs = _next(_client(APIClient(), second), project, "draw").json()
    response = _client(api_client, first).post(
        mine["submit_url"],
        {"task": theirs["tasks"][0]["id"], "box": {"x": 0, "y": 0, "w": 20, "h": 20},
         "duration_ms": 5},
        format="json",
    )  # fmt: skip
    assert response.status_code == 400
    assert response.json()["code"] == "task_not_in_assignment"
    assert not Box.objects.exists()


def test_someone_elses_assignment_is_404(api_client):
    project = boxed_project(images=1)
    owner, stranger = workers(2)
    payload = _next(_client(api_client, owner), project, "draw").json()
    response = _client(api_client, stranger).post(
        payload["submit_url"],
        {"task": payload["tasks"][0]["id"], "box": {"x": 0, "y": 0, "w": 20, "h": 20},
         "duration_ms": 5},
        format="json",
    )  # fmt: skip
    assert response.status_code == 404


def test_quality_grid_shows_the_box_and_takes_answers(api_client):
    project = boxed_project(images=1)
    drawer, verifier = workers(2)
    client = _client(api_client, drawer)
    payload = _next(client, project, "draw").json()
    client.post(
        payload["submit_url"],
        {"task": payload["tasks"][0]["id"], "box": {"x": 3, "y": 4, "w": 30, "h": 20},
         "duration_ms": 5},
        format="json",
    )  # fmt: skip
    client = _client(api_client, verifier)
    grid = _next(client, project, "quality").json()
    assert grid["tasks"][0]["boxes"][0] | {"id": 0} == {"id": 0, "x": 3, "y": 4, "w": 30, "h": 20}
    ids = [t["id"] for t in grid["tasks"]]
    response = client.post(
        grid["submit_url"], {"yes": ids, "no": [], "duration_ms": 5}, format="json"
    )
    assert response.status_code == 200
    assert BoxVote.objects.filter(worker=verifier).count() == len(ids)
    assert _next(client, project, "quality").status_code == 204


def test_verify_refusals_are_clear_and_change_nothing(api_client):
    project = boxed_project(images=2)
    drawer, verifier = workers(2)
    _draw_one_box_per_image(_client(api_client, drawer), project, images=2)
    client = _client(api_client, verifier)
    grid = _next(client, project, "quality").json()
    ids = [t["id"] for t in grid["tasks"]]
    # An answer for a task that is not in this assignment: 400, nothing stored.
    stray = client.post(
        grid["submit_url"], {"yes": ids + [10**9], "no": [], "duration_ms": 5}, format="json"
    )
    assert stray.status_code == 400, stray.content
    assert stray.json()["final"] is True and stray.json()["code"]
    assert not BoxVote.objects.filter(worker=verifier).exists()
    # The real answer, then a re-post with other answers: the first stands (409).
    first = client.post(grid["submit_url"], {"yes": ids, "no": [], "duration_ms": 5}, format="json")
    assert first.status_code == 200
    changed = client.post(
        grid["submit_url"], {"yes": [], "no": ids, "duration_ms": 5}, format="json"
    )
    assert changed.status_code == 409, changed.content
    assert changed.json()["code"] == "already_submitted"
    assert set(BoxVote.objects.filter(worker=verifier).values_list("label", flat=True)) == {True}


def test_progress_is_for_staff_only(api_client, admin_user):
    project = boxed_project(images=2)
    (worker,) = workers(1)
    assert (
        _client(api_client, worker).get(f"/api/projects/{project.slug}/boxes/progress/").status_code
        == 403
    )
    response = _client(api_client, admin_user).get(f"/api/projects/{project.slug}/boxes/progress/")
    assert response.status_code == 200
    assert response.json()["images"] == 2
    assert response.json()["costs"]["by_kind"]["draw"]["assignments"] == 0


def test_box_costs_per_task_type_are_on_the_crowds_cost_page(api_client, client):
    # Given a project with two boxes drawn and one quality grid answered on the built-in crowd
    project = boxed_project(images=2, reward_cents_per_hit=7)
    drawer, verifier = workers(2)
    _draw_one_box_per_image(_client(api_client, drawer), project, images=2)
    api = _client(api_client, verifier)
    grid = _next(api, project, "quality").json()
    ids = [t["id"] for t in grid["tasks"]]
    assert api.post(grid["submit_url"], {"yes": ids, "no": [], "duration_ms": 5},
                    format="json").status_code == 200  # fmt: skip
    rewards = dict(
        BoxAssignment.objects.filter(project=project, status="submitted")
        .values("kind")
        .annotate(total=Sum("reward_cents"))
        .values_list("kind", "total")
    )

    # When an owner opens the project's cost page
    owner = _owner(project)
    client.force_login(owner)
    page = client.get(f"/crowds/projects/{project.slug}/costs/").content.decode()

    # Then each box task type has its row: assignments, answers and what they cost
    assert 'id="cost-tasks"' in page
    assert "<td>image verification (HITs)</td>" in page
    assert f"<td>box drawing</td><td>2</td><td>2</td><td>{rewards['draw']}</td>" in page
    quality = f"<td>box quality check</td><td>1</td><td>{len(ids)}</td><td>{rewards['quality']}"
    assert quality in page
    assert "<td>boxes, all tasks</td><td>3</td>" in page


def _owner(project):
    from django.contrib.auth import get_user_model

    owner = get_user_model().objects.create_user(username="box-owner", is_staff=True)
    project.owners.add(owner)
    return owner


def _draw_one_box_per_image(client, project, *, images: int) -> None:
    for _ in range(images):
        payload = _next(client, project, "draw").json()
        response = client.post(
            payload["submit_url"],
            {"task": payload["tasks"][0]["id"], "box": {"x": 3, "y": 4, "w": 30, "h": 20},
             "duration_ms": 5},
            format="json",
        )  # fmt: skip
        assert response.status_code == 200, response.content

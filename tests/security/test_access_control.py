"""Access control on every route of config.urls (enumerated, so a new route is covered the day it
lands): anonymous users get nothing but the public pages; annotators get nothing admin-only; a
staff user who does not own a project cannot change it (CVAT's missing authorisation, §3)."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.security.routes import all_routes, url_for

pytestmark = pytest.mark.django_db

# Routes anyone may open, and why.
PUBLIC = {
    "home": "landing page",
    "healthz": "load balancer probe; reveals only up/down",
    "login": "sign-in form",
    "logout": "signing out is harmless",
    "labeling:invite": "sign-up through an invite token (unknown token: 404)",
    "crowds:mturk-hit": "MTurk ExternalQuestion page; the assignment is confirmed before use",
    "crowds:mturk-submit": "MTurk answer post; validated against the platform",
    "crowds:image": "images of a HIT behind an unguessable signed token",
    "crowds:panel-entry": "panel link; the participant id comes from the panel",
    "crowds:panel-work": "panel participants have no account; token-bound",
    "crowds:panel-done": "completion code page; token-bound",
    "synsets:search": "WordNet browser: public lexical data, no project data",
    "synsets:detail": "WordNet browser",
    "api-synset-list": "WordNet API: public lexical data",
    "api-synset-detail": "WordNet API",
    "api-synset-ancestors": "WordNet API",
    "api-synset-descendants": "WordNet API",
}
# Routes an annotator may use.
ANNOTATOR = {
    "labeling:grid", "labeling:thumbnail", "labeling:image", "labeling:me",
    "labeling:index",
    "api-hit-next", "api-assignment-submit", "api-assignment-release", "api-me-stats",
    # Box tasks are annotators' work too; each checks the project (can_label) inside.
    "boxes:draw", "boxes:verify",
    "api-box-next", "api-box-draw", "api-box-verify", "api-box-release",
    "schema", "api-docs",  # any signed-in user: the schema holds no data
}  # fmt: skip
ROUTES = all_routes()


def _get(client: Client, url: str) -> int:
    return client.get(url, HTTP_ACCEPT="application/json, text/html").status_code


@pytest.mark.parametrize("route", ROUTES, ids=[r.name for r in ROUTES])
def test_anonymous_users_get_no_private_route(route, world):
    client = Client()
    url = url_for(route, world)
    get_status = _get(client, url)
    post_status = client.post(url, {}).status_code
    if route.name in PUBLIC:
        assert get_status < 500 and post_status < 500
        return
    assert get_status in (302, 401, 403, 404, 405), (url, get_status)
    assert post_status in (302, 401, 403, 404, 405), (url, post_status)
    if get_status == 302:
        assert "/login/" in client.get(url)["Location"]


@pytest.mark.parametrize(
    "route", [r for r in ROUTES if r.name not in PUBLIC and r.name not in ANNOTATOR],
    ids=lambda r: r.name,
)  # fmt: skip
def test_annotators_get_no_admin_route(route, world):
    client = Client()
    client.force_login(world["annotator"])
    url = url_for(route, world)
    for status in (_get(client, url), client.post(url, {}).status_code,
                   client.patch(url, {}, content_type="application/json").status_code):
        assert status in (302, 403, 404, 405), (url, status)


def test_staff_who_do_not_own_a_project_cannot_change_it(world):
    client = Client()
    client.force_login(world["other_admin"])
    project = world["project"]
    response = client.patch(
        f"/api/projects/{project.slug}/", {"name": "hijacked", "max_votes": 3},
        content_type="application/json",
    )  # fmt: skip
    assert response.status_code == 403
    project.refresh_from_db()
    assert project.name == "Evil project"
    invite = client.post(f"/api/projects/{project.slug}/invites/", {},
                         content_type="application/json")  # fmt: skip
    assert invite.status_code == 403


def test_owner_can_change_their_project(world):
    client = Client()
    client.force_login(world["owner"])
    project = world["project"]
    response = client.patch(f"/api/projects/{project.slug}/", {"name": "Renamed"},
                            content_type="application/json")  # fmt: skip
    assert response.status_code == 200


# The README's table of who may do what, row by row, for each role (issue 13).
def _as(world, role: str) -> Client:
    from django.contrib.auth import get_user_model

    from labeling.roles import annotator_create, project_member_add

    client = Client()
    users = get_user_model().objects
    if role == "anonymous":
        return client
    if role == "annotator (not invited)":
        user = annotator_create(username="uninvited", password=None)
    elif role == "annotator (invited)":
        user = annotator_create(username="invited", password=None)
        project_member_add(project=world["project"], user=user)
    elif role == "staff, not owner":
        user = world["other_admin"]
    elif role == "project owner":
        user = world["owner"]
    else:
        user = users.create_superuser(username="root", password="pw-root-123")
    client.force_login(user)
    return client


ROLES = ["anonymous", "annotator (not invited)", "annotator (invited)", "staff, not owner",
         "project owner", "superuser"]  # fmt: skip
MATRIX = {
    # (method, route name): expected status per role, in ROLES order
    ("get", "labeling:grid"): (302, 403, 200, 403, 200, 200),
    ("get", "labeling:image"): (302, 403, 200, 200, 200, 200),
    ("get", "candidates:image"): (302, 403, 403, 200, 200, 200),
    ("get", "schema"): (403, 200, 200, 200, 200, 200),
    ("get", "dashboards:project"): (302, 403, 403, 200, 200, 200),
    ("get", "crowds:project"): (302, 302, 302, 200, 200, 200),
    ("post", "crowds:project"): (302, 302, 302, 403, 302, 302),
}


@pytest.mark.parametrize("role", ROLES)
def test_the_readme_role_table(world, role):
    from django.urls import reverse

    client = _as(world, role)
    index = ROLES.index(role)
    kwargs = {
        "labeling:grid": {"slug": world["project"].slug},
        "labeling:image": {"candidate_id": world["candidate"].pk},
        "candidates:image": {"pk": world["candidate"].pk},
        "schema": {},
        "dashboards:project": {"slug": world["project"].slug},
        "crowds:project": {"slug": world["project"].slug},
    }
    for (method, name), expected in MATRIX.items():
        url = reverse(name, kwargs=kwargs[name])
        if method == "get":
            status = client.get(url).status_code
        else:
            status = client.post(url, {"action": "settings", "crowd_backend": "builtin",
                                       "budget_dollars": "1"}).status_code  # fmt: skip
        assert status == expected[index], (role, method, name, status)

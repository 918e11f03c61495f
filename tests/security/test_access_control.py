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
    "api-hit-next", "api-assignment-submit", "api-assignment-release", "api-me-stats",
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

"""CSRF on every state-changing route (CVAT's CSRF on export endpoints, docs/architecture.md
§6): a POST, PUT, PATCH or DELETE without a token from a signed-in browser is refused on every
route of config.urls; routes exempt on purpose are listed with the reason."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.security.routes import all_routes, url_for

pytestmark = pytest.mark.django_db

# Exempt on purpose (they authenticate by something other than a browser session).
EXEMPT: dict[str, str] = {
    "crowds:mturk-submit": "framed cross-site by MTurk, so no CSRF cookie reaches it; a signed, "
    "expiring per-assignment token authorises the post (tested below)",
}
ROUTES = all_routes()


@pytest.mark.parametrize("route", ROUTES, ids=[r.name for r in ROUTES])
@pytest.mark.parametrize("who", ["owner", "annotator"])
def test_state_change_without_csrf_token_is_refused(route, who, world):
    if route.name in EXEMPT:
        pytest.skip(EXEMPT[route.name])
    client = Client(enforce_csrf_checks=True)
    client.force_login(world[who])
    url = url_for(route, world)
    for method in ("post", "put", "patch", "delete"):
        response = getattr(client, method)(url, {}, content_type="application/json")
        assert response.status_code in (403, 405), (method, url, response.status_code)


def test_login_without_csrf_token_is_refused(world):
    client = Client(enforce_csrf_checks=True)
    response = client.post("/accounts/login/", {"username": "owner", "password": "pw-owner-123"})
    assert response.status_code == 403
    assert "_auth_user_id" not in client.session


def test_mturk_submit_without_its_signed_token_changes_nothing(world):
    from labeling.models import Vote

    client = Client(enforce_csrf_checks=True)
    for token in ("", "forged", "eyJjIjoxfQ:1abc:bad"):
        response = client.post("/crowds/mturk/submit/", {"token": token, "selected": "1,2"})
        assert response.status_code == 400
    assert not Vote.objects.exists()

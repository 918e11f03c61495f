"""Stored and reflected XSS: synset text, candidate titles/URLs/attribution, query strings and
worker-supplied fields never reach a page unescaped (Label Studio's stored XSS,
docs/architecture.md §6)."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.security.conftest import XSS

pytestmark = pytest.mark.django_db

RAW = [b"<script>alert(", b"<img src=x onerror", b'href="javascript:']


def _assert_clean(response, url):
    assert response.status_code < 500, url
    body = response.content
    for needle in RAW:
        assert needle not in body, (url, needle, body[max(body.find(needle) - 200, 0):][:400])


def test_stored_synset_and_candidate_text_is_escaped_on_every_page(world):
    staff = Client()
    staff.force_login(world["owner"])
    annotator = Client()
    annotator.force_login(world["annotator"])
    wnid, slug = world["wnid"], world["slug"]
    pages = [
        (staff, f"/synsets/{wnid}/"),
        (staff, f"/synsets/?q={world['synset'].lemmas[1]}"),
        (staff, f"/candidates/{wnid}/"),
        (staff, f"/candidates/{wnid}/?status=stored"),
        (staff, f"/dashboard/{slug}/"),
        (staff, f"/dashboard/{slug}/synsets/{wnid}/"),
        (staff, f"/dashboard/{slug}/workers/"),
        (staff, f"/crowds/projects/{slug}/"),
        (annotator, f"/label/{slug}/"),
        (annotator, "/label/me/"),
    ]
    for client, url in pages:
        response = client.get(url)
        _assert_clean(response, url)
    synset_page = staff.get(f"/synsets/{wnid}/").content
    assert b"&lt;script&gt;alert(1)&lt;/script&gt;" in synset_page


@pytest.mark.parametrize("url", [
    f"/synsets/?q={XSS}",
    f"/candidates/n00000000/?status={XSS}",
    "/accounts/login/?next=javascript:alert(1)",
    f"/accounts/login/?next=%22%3E{XSS}",
    f"/crowds/mturk/hit/?assignmentId={XSS}&hitId={XSS}&workerId={XSS}"
    "&turkSubmitTo=javascript:alert(1)",
    f"/crowds/panel/{XSS}/?PROLIFIC_PID={XSS}",
    f"/invite/{XSS}/",
    f"/api/synsets/?search={XSS}",
])  # fmt: skip
def test_query_strings_are_not_reflected_unescaped(world, url):
    client = Client()
    client.force_login(world["owner"])
    response = client.get(url, HTTP_ACCEPT="text/html")
    _assert_clean(response, url)


def test_api_json_is_never_sniffable_as_html(world):
    client = Client()
    client.force_login(world["owner"])
    url = f"/api/synsets/{world['wnid']}/candidates/"
    response = client.get(url, HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    assert response["X-Content-Type-Options"] == "nosniff"

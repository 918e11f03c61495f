"""Synset API and pages: public read access, pagination, 404s, search, bounded query counts."""

from __future__ import annotations

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_search_api_is_public_and_paginated(wordnet, api_client):
    response = api_client.get("/api/synsets/", {"search": "dog"})
    assert response.status_code == 200
    body = response.json()
    assert body["results"][0]["wnid"] == "n02084071"
    assert body["count"] >= 10
    assert len(body["results"]) <= 50
    page2 = api_client.get("/api/synsets/", {"page": 2}).json()
    assert len(page2["results"]) == 50 and page2["previous"]


def test_detail_api_has_parents_children_depth(wordnet, api_client):
    body = api_client.get("/api/synsets/n02084071/").json()
    assert {p["wnid"] for p in body["parents"]} == {"n01317541", "n02083346"}
    assert any(c["wnid"] == "n02085374" for c in body["children"])  # toy dog
    assert body["depth"] >= 8
    assert "狗" in body["languages"]["cmn"]


def test_unknown_wnid_is_404_everywhere(wordnet, api_client, client):
    for url in (
        "/api/synsets/n99999999/",
        "/api/synsets/n99999999/ancestors/",
        "/api/synsets/n99999999/descendants/",
        "/synsets/n99999999/",
    ):
        assert api_client.get(url).status_code == 404, url


def test_ancestors_and_descendants(wordnet, api_client):
    ancestors = api_client.get("/api/synsets/n02084071/ancestors/").json()
    wnids = [a["wnid"] for a in ancestors["results"]]
    assert "n01861778" in wnids and "n00001740" in wnids
    assert ancestors["results"][0]["distance"] == 1
    descendants = api_client.get("/api/synsets/n02084071/descendants/").json()
    assert descendants["count"] == 188 - 1 or descendants["count"] > 100
    assert descendants["results"][0]["distance"] == 1


def test_synset_page_shows_paths_children_and_wikipedia(wordnet, client):
    response = client.get(reverse("synsets:detail", args=["n02084071"]))
    assert response.status_code == 200
    html = response.content.decode()
    assert "domestic dog" in html
    # "Go" opens the article when one has that title.
    assert "en.wikipedia.org/wiki/Special:Search?search=dog&amp;go=Go" in html
    assert html.count('class="breadcrumbs"') == len(response.context["paths"]) >= 2
    assert "toy dog" in html


@pytest.mark.parametrize("wnid", ["n02085620", "n02084071", "n00001740", "n01861778"])
def test_synset_page_query_count_does_not_grow_with_children(
    wordnet, client, django_assert_max_num_queries, wnid
):
    with django_assert_max_num_queries(6):
        assert client.get(f"/synsets/{wnid}/").status_code == 200


def test_search_page(wordnet, client):
    html = client.get("/synsets/", {"q": "burmese"}).content.decode()
    assert "Burmese cat" in html
    html = client.get("/synsets/").content.decode()
    assert "musical instrument" in html  # presets listed


def test_search_text_is_escaped(wordnet, client):
    html = client.get("/synsets/", {"q": "<script>alert(1)</script>"}).content.decode()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;" in html


def test_openapi_schema_and_docs(client, annotator):
    assert client.get("/api/schema/").status_code in (401, 403)
    client.force_login(annotator)
    schema = client.get("/api/schema/")
    assert schema.status_code == 200
    assert b"/api/synsets/{wnid}/descendants/" in schema.content
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    assert b"cdn" not in docs.content.lower()


def test_home_and_login_pages(client, admin_user):
    assert client.get("/").status_code == 200
    assert client.get("/accounts/login/").status_code == 200
    response = client.post("/accounts/login/", {"username": "boss", "password": "pw-boss-123"})
    assert response.status_code == 302
    assert client.get("/admin/").status_code == 200


def test_admin_requires_staff(client, annotator):
    client.force_login(annotator)
    response = client.get("/admin/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_admin_synset_search(wordnet, client, admin_user):
    client.force_login(admin_user)
    response = client.get("/admin/synsets/synset/", {"q": "dog"})
    assert response.status_code == 200
    assert b"n02084071" in response.content

"""Request ids on responses and logs; database outages become 503 with a retry hint."""

from __future__ import annotations

import pytest
from django.db import OperationalError

pytestmark = pytest.mark.django_db


def _broken(*args, **kwargs):
    raise OperationalError("server closed the connection unexpectedly")


def test_database_error_is_a_clean_503_page(client, monkeypatch):
    monkeypatch.setattr("synsets.views.selectors.synset_get", _broken)
    response = client.get("/synsets/n02084071/")
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert b"Traceback" not in response.content
    assert b"server closed" not in response.content


def test_database_error_on_the_api_is_json_503(client, monkeypatch):
    monkeypatch.setattr("synsets.api.selectors.synset_search", _broken)
    response = client.get("/api/synsets/", {"search": "dog"})
    assert response.status_code == 503
    assert response.json()["detail"].startswith("The database is temporarily unavailable")


def test_request_id_is_echoed_or_generated(client):
    response = client.get("/healthz", HTTP_X_REQUEST_ID="abc12345-trace")
    assert response["X-Request-ID"] == "abc12345-trace"
    generated = client.get("/healthz", HTTP_X_REQUEST_ID="<script>")["X-Request-ID"]
    assert generated != "<script>" and len(generated) == 32


def test_a_nul_in_the_query_string_is_a_400_not_a_500(client):
    # Found by the schema fuzzer: PostgreSQL refuses text with NUL, the search filter raised.
    response = client.get("/api/synsets/?search=a%00b")
    assert response.status_code == 400
    assert response.json() == {"detail": "Query parameters must not contain NUL characters."}
    assert client.get("/synsets/?q=%00").status_code == 400
    assert client.get("/api/synsets/?search=%2500").status_code == 200  # a literal "%00"
    assert client.get("/api/synsets/?search=cat").status_code == 200

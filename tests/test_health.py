"""`/healthz` reports the database and broker; 503 when either is down."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def test_healthz_ok_with_postgres_and_redis(client):
    response = client.get("/healthz")
    assert response.status_code == 200, response.json()
    assert response.json() == {"status": "ok", "database": "ok", "broker": "ok"}


def test_healthz_503_when_broker_unreachable(client, settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    settings.CELERY_BROKER_CONNECTION_TIMEOUT = 1
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["broker"] != "ok" and body["database"] == "ok"
    assert response["Retry-After"]
    assert "127.0.0.1:1" not in response.content.decode()

"""Issue 13 finding 10: throttles are applied, and their counters are shared by all processes.

300 anonymous ``GET /api/synsets/`` in 20 s once all answered 200 against a 120/min rate:
``DEFAULT_THROTTLE_CLASSES`` was unset, and the per-process local-memory cache made any limit
per process. Now every API view is throttled, and the cache is Redis unless the app runs in its
zero-configuration mode.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from unittest import mock

import pytest
from django.conf import settings
from django.core.cache.backends.redis import RedisCache
from django.test import Client
from rest_framework import throttling
from rest_framework.views import APIView

from config.throttling import AnonRateThrottle, UserRateThrottle, _WindowCounterThrottle

pytestmark = pytest.mark.django_db


def _redis_url() -> str:
    return os.environ.get("CELERY_BROKER_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture
def redis_cache(settings):
    """The default cache on Redis under a key prefix of its own (never cleared as a whole)."""
    prefix = f"test-throttle-{uuid.uuid4().hex[:12]}"
    settings.CACHES = {
        "default": {
            "BACKEND": "config.cache.RedisCache",
            "LOCATION": _redis_url(),
            "KEY_PREFIX": prefix,
        }
    }
    return prefix


@pytest.fixture
def low_rates(monkeypatch):
    rates = {**throttling.SimpleRateThrottle.THROTTLE_RATES, "anon": "5/min", "user": "7/min"}
    monkeypatch.setattr(throttling.SimpleRateThrottle, "THROTTLE_RATES", rates)


def test_every_api_view_is_throttled_by_default():
    classes = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_CLASSES"]
    assert classes == ["config.throttling.AnonRateThrottle", "config.throttling.UserRateThrottle"]
    assert APIView.throttle_classes == [AnonRateThrottle, UserRateThrottle]
    assert settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["anon"] == "120/min"


def test_anonymous_requests_beyond_the_rate_get_429_and_the_count_is_in_redis(
    redis_cache, low_rates
):
    client = Client()
    statuses = [client.get("/api/synsets/").status_code for _ in range(6)]
    assert statuses == [200] * 5 + [429]
    # The count is in Redis, where every web process reads it (not in this process' memory):
    # the allowed requests, not the refused one.
    other_process_view = RedisCache(_redis_url(), {"KEY_PREFIX": redis_cache})
    window = int(time.time() // 60)
    counts = other_process_view.get_many(
        [f"throttle_anon_127.0.0.1:{n}" for n in (window - 1, window)]
    )
    assert sum(counts.values()) == 5


def test_signed_in_users_are_throttled_per_user(redis_cache, low_rates, admin_user):
    client = Client()
    client.force_login(admin_user)
    statuses = [client.get("/api/synsets/").status_code for _ in range(8)]
    assert statuses == [200] * 7 + [429]


def test_a_cache_outage_lets_requests_through(settings, low_rates):
    settings.CACHES = {
        "default": {
            "BACKEND": "config.cache.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens on port 1
            "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
        }
    }
    client = Client()
    assert [client.get("/api/synsets/").status_code for _ in range(6)] == [200] * 6


def _cache_config(**env) -> dict:
    code = (
        "import django, json, os; os.environ.setdefault('DJANGO_SETTINGS_MODULE', "
        "'config.settings'); django.setup(); from django.conf import settings; "
        "print(json.dumps(settings.CACHES['default']))"
    )
    base = {k: v for k, v in os.environ.items() if k not in {"CACHE_URL", "CELERY_BROKER_URL"}}
    result = subprocess.run(
        [sys.executable, "-c", code], env={**base, **env}, cwd=settings.BASE_DIR,
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_production_uses_redis_and_only_zero_config_uses_local_memory():
    explicit = _cache_config(DEBUG="0", CACHE_URL="redis://127.0.0.1:6379/3",
                             CELERY_BROKER_URL="redis://127.0.0.1:6379/0")  # fmt: skip
    assert explicit["BACKEND"].endswith("RedisCache")
    assert explicit["LOCATION"] == "redis://127.0.0.1:6379/3"
    from_broker = _cache_config(DEBUG="0", CELERY_BROKER_URL="redis://127.0.0.1:6379/0")
    assert from_broker["BACKEND"] == "config.cache.RedisCache"
    zero_config = _cache_config(DEBUG="1", CELERY_BROKER_URL="filesystem://")
    assert zero_config["BACKEND"] == "django.core.cache.backends.locmem.LocMemCache"


# The worker API (next HIT, submit, stats): its own scope, counted in one round trip.


@pytest.fixture
def worker_rate(monkeypatch):
    rates = {**throttling.SimpleRateThrottle.THROTTLE_RATES, "worker": "4/min"}
    monkeypatch.setattr(throttling.SimpleRateThrottle, "THROTTLE_RATES", rates)


@pytest.fixture
def clock(monkeypatch):
    """The throttles' clock, set by the test: ``clock[0]`` seconds, at a window's start."""
    now = [60.0 * 1_000_000]
    monkeypatch.setattr(_WindowCounterThrottle, "timer", staticmethod(lambda: now[0]))
    return now


def _stats(client) -> int:
    response = client.get("/api/me/stats/")
    return response.status_code, response.headers.get("Retry-After")


@pytest.mark.parametrize("backend", ["redis", "local memory"])
def test_the_worker_api_refuses_past_its_rate_with_a_retry_after(
    request, annotator, worker_rate, clock, backend
):
    # Given the worker rate at 4 a minute, on Redis or the zero-configuration local memory
    if backend == "redis":
        request.getfixturevalue("redis_cache")
    client = Client()
    client.force_login(annotator)

    # When the worker makes five requests at once
    answers = [_stats(client) for _ in range(5)]

    # Then four pass and the fifth is refused, told to come back once the window's weight has
    # fallen enough for one more: 60 s to the next window, then a quarter of it (75 s)
    assert answers == [(200, None)] * 4 + [(429, "75")]


def test_requests_of_the_last_window_count_by_how_much_of_it_is_still_in_view(
    redis_cache, annotator, worker_rate, clock
):
    # Given a worker who used the rate (4/min) at the start of a minute, then was refused once
    client = Client()
    client.force_login(annotator)
    assert [_stats(client)[0] for _ in range(5)] == [200] * 4 + [429]

    # When half of the next minute has gone by
    clock[0] += 90

    # Then the last minute's four requests weigh two: two more pass (the refused request was
    # not counted, or only one would), and the next is told to wait until enough of the last
    # minute has slid out (15 s: one request's weight)
    assert [_stats(client) for _ in range(3)] == [(200, None)] * 2 + [(429, "15")]
    clock[0] += 15
    assert _stats(client) == (200, None)


def test_the_worker_throttle_costs_one_redis_round_trip(redis_cache, annotator):
    import redis.connection

    # Given a signed-in worker (sessions in the database in this configuration) and a
    # connection to Redis already open
    client = Client()
    client.force_login(annotator)
    assert client.get("/api/me/stats/").status_code == 200
    sent = []
    real = redis.connection.AbstractConnection.send_packed_command

    def spy(self, command, check_health=True):
        sent.append(command)
        return real(self, command, check_health)

    # When they ask for their stats
    with mock.patch.object(redis.connection.AbstractConnection, "send_packed_command", spy):
        assert client.get("/api/me/stats/").status_code == 200

    # Then the throttle spoke to Redis once (DRF's read and write of a timestamp list: twice)
    assert len(sent) == 1
    packed = sent[0] if isinstance(sent[0], bytes) else b"".join(sent[0])
    assert [word in packed for word in (b"INCRBY", b"EXPIRE", b"GET")] == [True] * 3


def test_the_worker_api_stays_open_when_the_cache_fails(
    redis_cache, annotator, worker_rate, caplog
):
    import redis.client
    import redis.exceptions

    # Given Redis refusing every command
    client = Client()
    client.force_login(annotator)
    failing = mock.patch.object(
        redis.client.Pipeline, "execute", side_effect=redis.exceptions.ConnectionError("down")
    )

    # When the worker makes more requests than the rate allows
    with failing, caplog.at_level("WARNING", logger="config.throttling"):
        statuses = [client.get("/api/me/stats/").status_code for _ in range(6)]

    # Then every one is served, and the outage is logged
    assert statuses == [200] * 6
    assert "throttle cache unavailable" in caplog.text

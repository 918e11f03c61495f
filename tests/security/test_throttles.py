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
import uuid

import pytest
from django.conf import settings
from django.core.cache.backends.redis import RedisCache
from django.test import Client
from rest_framework import throttling
from rest_framework.views import APIView

from config.throttling import AnonRateThrottle, UserRateThrottle

pytestmark = pytest.mark.django_db


def _redis_url() -> str:
    return os.environ.get("CELERY_BROKER_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture
def redis_cache(settings):
    """The default cache on Redis under a key prefix of its own (never cleared as a whole)."""
    prefix = f"test-throttle-{uuid.uuid4().hex[:12]}"
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
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
    # The counter is in Redis, where every web process reads it (not in this process' memory).
    other_process_view = RedisCache(_redis_url(), {"KEY_PREFIX": redis_cache})
    history = other_process_view.get("throttle_anon_127.0.0.1")
    assert history is not None and len(history) == 5


def test_signed_in_users_are_throttled_per_user(redis_cache, low_rates, admin_user):
    client = Client()
    client.force_login(admin_user)
    statuses = [client.get("/api/synsets/").status_code for _ in range(8)]
    assert statuses == [200] * 7 + [429]


def test_a_cache_outage_lets_requests_through(settings, low_rates):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
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
    assert from_broker["BACKEND"] == "django.core.cache.backends.redis.RedisCache"
    zero_config = _cache_config(DEBUG="1", CELERY_BROKER_URL="filesystem://")
    assert zero_config["BACKEND"] == "django.core.cache.backends.locmem.LocMemCache"

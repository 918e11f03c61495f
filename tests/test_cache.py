"""The Redis cache backend hands out one Redis client per server (config.cache)."""

from __future__ import annotations

import os
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.core.cache.backends.redis import RedisCacheClient

from config.cache import RedisCache


@pytest.fixture
def cache():
    url = os.environ.get("CELERY_BROKER_URL", "redis://127.0.0.1:6379/15")
    return RedisCache(url, {"KEY_PREFIX": f"test-cache-{uuid.uuid4().hex[:12]}", "TIMEOUT": 60})


def test_every_call_gets_the_same_client(cache):
    clients = {id(cache._cache.get_client(write=write)) for write in (True, False, True)}
    # Django's own client class builds a new one on every call
    django_client = RedisCacheClient(cache._servers)
    assert django_client.get_client() is not django_client.get_client()
    assert len(clients) == 1


def test_threads_share_the_client_and_nothing_is_lost(cache):
    cache.set("counter", 0)

    def count(_):
        for _ in range(50):
            cache.incr("counter")
        return id(cache._cache.get_client(write=True))

    with ThreadPoolExecutor(8) as pool:
        clients = set(pool.map(count, range(8)))

    assert cache.get("counter") == 400
    assert len(clients) == 1
    cache.delete("counter")


def test_it_is_still_djangos_redis_cache(cache):
    cache.set_many({"a": {"x": 1}, "b": [1, 2]})
    assert cache.get_many(["a", "b", "c"]) == {"a": {"x": 1}, "b": [1, 2]}
    assert cache.add("a", "other") is False
    cache.delete_many(["a", "b"])
    assert cache.get("a") is None

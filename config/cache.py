"""Django's Redis cache, handing out one Redis client per server instead of one per call.

Django's ``RedisCacheClient.get_client`` builds a new ``redis.Redis`` on every cache call, and
building one fills a table of ~170 response callbacks (about 0.1 ms and 400 Python calls). A
worker API request makes two or three cache calls (the session, the throttle's counters, the
synset's card), on every request. A ``redis.Redis`` holds no connection of its own: it takes
one from its pool per command, so one client per pool serves every thread of the process.
"""

from __future__ import annotations

from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient


class _SharedClients(RedisCacheClient):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[int, object] = {}

    def get_client(self, key=None, *, write=False):
        index = self._get_connection_pool_index(write)
        client = self._clients.get(index)
        if client is None:
            # Two threads may both build one here; one is kept, and either works.
            client = self._clients.setdefault(
                index, self._client(connection_pool=self._get_connection_pool(write))
            )
        return client


class RedisCache(DjangoRedisCache):
    def __init__(self, server, params) -> None:
        super().__init__(server, params)
        self._class = _SharedClients

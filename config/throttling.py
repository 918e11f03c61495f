"""DRF throttles that count in one cache round trip and fail open.

The rate counters live in the shared cache (Redis). DRF's own throttles read a list of request
timestamps and write it back: two round trips per request, and a list as long as the rate. Ours
keep two counters per client instead — this window's and the last one's — and estimate the
requests of the sliding window from them (the last window's count weighted by how much of it the
sliding window still covers): one pipelined ``INCR``, ``EXPIRE`` and ``GET`` per request. Refused
requests are taken back off the counter, as DRF does not record them either.

A cache outage must not turn every API request into a 500 — votes go to PostgreSQL and must keep
being accepted while Redis is down: a refused cache call lets the request through and is logged.
"""

from __future__ import annotations

import contextlib
import logging

from django.core.cache import DEFAULT_CACHE_ALIAS, caches
from django.core.cache.backends.redis import RedisCache
from rest_framework import throttling

logger = logging.getLogger(__name__)


class _FailOpen:
    def allow_request(self, request, view) -> bool:
        try:
            return super().allow_request(request, view)
        except Exception as error:  # noqa: BLE001 — any cache client error: let it through
            logger.warning("throttle cache unavailable, request allowed: %s", error)
            return True


class _WindowCounterThrottle(throttling.SimpleRateThrottle):
    """``SimpleRateThrottle`` with the timestamp list replaced by two window counters (see the
    module docstring). Keys: ``<cache key>:<window number>``, kept for two windows."""

    def allow_request(self, request, view) -> bool:
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        self.now = self.timer()
        window, self.elapsed = divmod(self.now, self.duration)
        current_key = f"{self.key}:{int(window)}"
        self.current, self.previous = self._counters_add(
            current_key, f"{self.key}:{int(window) - 1}"
        )
        if self._estimate(self.current) <= self.num_requests:
            return True
        self.current -= 1
        try:
            self._counter_undo(current_key)
        except Exception as error:  # noqa: BLE001 — the request is refused all the same
            logger.warning("throttle cache unavailable, refusal not taken back: %s", error)
        return False

    def wait(self) -> float:
        """Seconds until one more request fits the estimate (at least one)."""
        remaining = self.duration - self.elapsed
        if self.num_requests < 1:
            return float(self.duration)
        if self.current + 1 <= self.num_requests:
            # This window has room once enough of the last one has slid out of the estimate
            # (the last window holds requests, or this one would not have been refused).
            spare = self.num_requests - 1 - self.current
            seconds = remaining - spare * self.duration / self.previous
        else:
            # This window is full: into the next one, until this window's weight has fallen.
            seconds = remaining + self.duration * (1 - (self.num_requests - 1) / self.current)
        return max(seconds, 1.0)

    def _estimate(self, current: int) -> float:
        return self.previous * (1 - self.elapsed / self.duration) + current

    def _backend(self):
        return caches[DEFAULT_CACHE_ALIAS] if self.cache is throttling.default_cache else self.cache

    def _counters_add(self, current_key: str, previous_key: str) -> tuple[int, int]:
        """Count this request in the current window; returns (current, previous) counts."""
        backend = self._backend()
        ttl = 2 * self.duration
        if isinstance(backend, RedisCache):
            current_key = backend.make_and_validate_key(current_key)
            previous_key = backend.make_and_validate_key(previous_key)
            client = backend._cache.get_client(current_key, write=True)
            pipeline = client.pipeline(transaction=False)
            pipeline.incr(current_key)
            pipeline.expire(current_key, ttl)
            pipeline.get(previous_key)
            current, _, previous = pipeline.execute()
            return int(current), int(previous or 0)
        # Other backends (local memory in the zero-configuration mode): the portable calls.
        backend.add(current_key, 0, ttl)
        try:
            current = backend.incr(current_key)
        except ValueError:  # expired between add and incr
            backend.set(current_key, 1, ttl)
            current = 1
        return current, int(backend.get(previous_key) or 0)

    def _counter_undo(self, current_key: str) -> None:
        backend = self._backend()
        if isinstance(backend, RedisCache):
            current_key = backend.make_and_validate_key(current_key)
            backend._cache.get_client(current_key, write=True).decr(current_key)
            return
        with contextlib.suppress(ValueError):  # expired meanwhile: nothing to take back
            backend.decr(current_key)


# ``_WindowCounterThrottle`` comes after DRF's class in each list of bases, so DRF's scope and
# key rules run first and their ``super().allow_request`` lands on the window counters.
class AnonRateThrottle(_FailOpen, throttling.AnonRateThrottle, _WindowCounterThrottle):
    pass


class UserRateThrottle(_FailOpen, throttling.UserRateThrottle, _WindowCounterThrottle):
    pass


class ScopedRateThrottle(_FailOpen, throttling.ScopedRateThrottle, _WindowCounterThrottle):
    pass


class AddressRateThrottle(_FailOpen, _WindowCounterThrottle):
    """Per client address, signed in or not: for pages that need no session (the MTurk HIT
    page and its answer post), where a forged worker id costs an attacker nothing."""

    scope = "crowd_anon"

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}

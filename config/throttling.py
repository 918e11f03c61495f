"""DRF throttles that fail open: the rate counters live in the shared cache (Redis), and a cache
outage must not turn every API request into a 500 — votes go to PostgreSQL and must keep being
accepted while Redis is down. A refused cache read lets the request through and is logged."""

from __future__ import annotations

import logging

from rest_framework import throttling

logger = logging.getLogger(__name__)


class _FailOpen:
    def allow_request(self, request, view) -> bool:
        try:
            return super().allow_request(request, view)
        except Exception as error:  # noqa: BLE001 — any cache client error: let it through
            logger.warning("throttle cache unavailable, request allowed: %s", error)
            return True


class AnonRateThrottle(_FailOpen, throttling.AnonRateThrottle):
    pass


class UserRateThrottle(_FailOpen, throttling.UserRateThrottle):
    pass


class ScopedRateThrottle(_FailOpen, throttling.ScopedRateThrottle):
    pass


class AddressRateThrottle(_FailOpen, throttling.SimpleRateThrottle):
    """Per client address, signed in or not: for pages that need no session (the MTurk HIT
    page and its answer post), where a forged worker id costs an attacker nothing."""

    scope = "crowd_anon"

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}

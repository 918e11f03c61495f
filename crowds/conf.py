"""Every setting the crowd backends read, with its default, in one place.

Read at call time (not import time) so tests can override them. Integrations are off until
configured: MTurk talks to the sandbox unless ``MTURK_SANDBOX=False`` is set explicitly.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings

MTURK_SANDBOX_ENDPOINT = "https://mturk-requester-sandbox.us-east-1.amazonaws.com"
MTURK_PRODUCTION_ENDPOINT = "https://mturk-requester.us-east-1.amazonaws.com"
# The only origins a worker's browser may post an ExternalQuestion answer to (docs/crowds.md).
MTURK_WORKER_ORIGINS = ("https://www.mturk.com", "https://workersandbox.mturk.com")


def mturk_sandbox() -> bool:
    return bool(getattr(settings, "MTURK_SANDBOX", True))


def mturk_endpoint_url() -> str:
    explicit = getattr(settings, "MTURK_ENDPOINT_URL", "") or ""
    if explicit:
        return explicit
    return MTURK_SANDBOX_ENDPOINT if mturk_sandbox() else MTURK_PRODUCTION_ENDPOINT


def mturk_region() -> str:
    return getattr(settings, "MTURK_REGION", "us-east-1") or "us-east-1"


def mturk_credentials() -> dict[str, str]:
    """Explicit keys when set; otherwise boto3's usual chain (environment, profile, role)."""
    key = getattr(settings, "MTURK_AWS_ACCESS_KEY_ID", "") or ""
    secret = getattr(settings, "MTURK_AWS_SECRET_ACCESS_KEY", "") or ""
    if key and secret:
        return {"aws_access_key_id": key, "aws_secret_access_key": secret}
    return {}


def mturk_frame_height() -> int:
    return int(getattr(settings, "MTURK_FRAME_HEIGHT", 800))


def mturk_max_retries() -> int:
    return int(getattr(settings, "MTURK_MAX_RETRIES", 5))


def mturk_retry_base_seconds() -> float:
    return float(getattr(settings, "MTURK_RETRY_BASE_SECONDS", 1.0))


def crowds_public_base_url() -> str:
    """The HTTPS origin workers' browsers reach us at (MTurk's ExternalURL must be HTTPS)."""
    return (getattr(settings, "CROWDS_PUBLIC_BASE_URL", "") or "").rstrip("/")


def crowds_extra_origin() -> str:
    """One more origin allowed to frame the HIT page and to receive its answer post.

    Off by default; it exists for a local MTurk stand-in in tests and for MTurk-compatible
    services. It must be a bare origin (scheme://host[:port]).
    """
    value = (getattr(settings, "CROWDS_EXTRA_FRAME_ORIGIN", "") or "").rstrip("/")
    if not value:
        return ""
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.netloc or parts.path:
        return ""
    return f"{parts.scheme}://{parts.netloc}"


def crowds_worker_origins() -> tuple[str, ...]:
    extra = crowds_extra_origin()
    return (*MTURK_WORKER_ORIGINS, extra) if extra else MTURK_WORKER_ORIGINS


def crowds_pending_timeout_seconds() -> int:
    """How long a submitted MTurk assignment may wait for the platform's record before its
    votes are excluded (a forged assignment id never shows up in ListAssignmentsForHIT)."""
    return int(getattr(settings, "CROWDS_PENDING_TIMEOUT_SECONDS", 24 * 3600))


def mturk_min_approval_rate() -> int:
    return int(getattr(settings, "MTURK_MIN_APPROVAL_RATE", 95))


def mturk_worker_locales() -> list[str]:
    """Countries (ISO 3166 alpha-2) whose workers may accept; empty means no locale rule."""
    value = getattr(settings, "MTURK_WORKER_LOCALES", ["US", "CA", "GB", "AU", "NZ", "IE"])
    if isinstance(value, str):
        value = [part.strip() for part in value.split(",")]
    return [code.upper() for code in value if code]

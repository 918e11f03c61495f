"""The crowd backend interface: publish a project's work, sync submissions (confirm, pay or
refuse), close. One implementation per crowd: built-in, MTurk, link-based panel."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from config.errors import CodedError
from labeling.models import Project


class CrowdError(CodedError):
    """A crowd operation that could not be done; ``message`` is shown to the admin as is."""

    code = "crowd_error"


class CrowdUnavailable(CrowdError):
    """The platform could not be reached (network, endpoint gone)."""

    code = "unavailable"


class CrowdRefused(CrowdError):
    """The platform answered but refused (account, credentials, request)."""

    code = "refused"


class BudgetExhausted(CrowdError):
    code = "budget"


class NotConfigured(CrowdError):
    code = "not_configured"


@dataclass(frozen=True)
class PublishSpec:
    """What an admin asks for when publishing; ``max_hits`` caps the plan further."""

    reward_cents: int
    title: str = ""
    description: str = ""
    keywords: str = "image, labeling, categorization"
    bonus_cents: int = 0
    assignments_per_hit: int = 9
    lifetime_seconds: int = 7 * 24 * 3600
    auto_approval_delay_seconds: int = 3 * 24 * 3600
    max_hits: int | None = None


@dataclass
class PublishResult:
    hits_created: int = 0
    assignments: int = 0
    committed_cents: int = 0
    stopped_by: str = ""
    messages: list[str] = field(default_factory=list)


@dataclass
class SyncResult:
    seen: int = 0
    confirmed: int = 0
    mismatched: int = 0
    approved: int = 0
    rejected: int = 0
    bonuses: int = 0
    expired_hits: int = 0
    unconfirmed: int = 0
    messages: list[str] = field(default_factory=list)


class CrowdBackend(Protocol):
    """What every crowd offers the admin page and the periodic sync."""

    name: str

    def publish(self, *, project: Project, spec: PublishSpec, user=None) -> PublishResult: ...

    def sync(self, *, project: Project) -> SyncResult: ...

    def close(self, *, project: Project) -> int: ...


def backend_for(project: Project) -> CrowdBackend:
    """The backend a project publishes to (``Project.crowd_backend``)."""
    from .builtin import BuiltinBackend
    from .mturk import MTurkBackend
    from .panels import PanelBackend

    backends: dict[str, type] = {
        Project.CrowdBackend.BUILTIN: BuiltinBackend,
        Project.CrowdBackend.MTURK: MTurkBackend,
        Project.CrowdBackend.PANEL: PanelBackend,
    }
    return backends[project.crowd_backend]()

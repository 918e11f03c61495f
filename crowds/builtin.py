"""The built-in crowd: our own annotator accounts and invite links (the primary workforce now
that MTurk is closing). Publishing opens the project; votes count at once; nothing is paid out
through a platform, so the budget applies only to the paid crowds."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from labeling.models import Project

from .base import PublishResult, PublishSpec, SyncResult


class BuiltinBackend:
    name = "builtin"

    @transaction.atomic
    def publish(self, *, project: Project, spec: PublishSpec, user=None) -> PublishResult:
        Project.objects.filter(pk=project.pk).update(active=True, updated_at=timezone.now())
        return PublishResult(messages=["The project is open to the built-in crowd."])

    def sync(self, *, project: Project) -> SyncResult:
        # Built-in submissions are stored and counted at submit time: nothing to reconcile.
        return SyncResult()

    @transaction.atomic
    def close(self, *, project: Project) -> int:
        return Project.objects.filter(pk=project.pk).update(
            active=False, updated_at=timezone.now()
        )

"""Entry points the admin page, the API and the tasks call: choose a project's crowd and budget,
publish, sync, close; and the status the admin page shows."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from crowds.costs import project_committed_cents
from labeling.models import Project

from . import conf
from .base import PublishResult, PublishSpec, SyncResult, backend_for
from .models import CrowdAssignment, CrowdHIT, CrowdPublication, PanelConfig


@transaction.atomic
def project_crowd_set(
    *, project: Project, crowd_backend: str, budget_cents: int | None
) -> Project:
    """Choose where the project's HITs are published and its spending cap. Lowering the budget
    below what is already committed is refused: published work cannot be taken back."""
    if crowd_backend not in Project.CrowdBackend.values:
        raise ValidationError(f"unknown crowd backend {crowd_backend!r}")
    project = Project.objects.select_for_update().get(pk=project.pk)
    committed = project_committed_cents(project=project)
    if budget_cents is not None and budget_cents < committed:
        raise ValidationError(
            f"the budget cannot be below the ${committed / 100:.2f} already committed"
        )
    project.crowd_backend = crowd_backend
    project.budget_cents = budget_cents
    project.save(update_fields=["crowd_backend", "budget_cents", "updated_at"])
    return project


def crowd_publish(*, project: Project, spec: PublishSpec, user=None) -> PublishResult:
    """Publish to the project's backend (network calls: not one transaction, see mturk.py)."""
    return backend_for(project).publish(project=project, spec=spec, user=user)


def crowd_sync(*, project: Project) -> SyncResult:
    return backend_for(project).sync(project=project)


def crowd_close(*, project: Project) -> int:
    return backend_for(project).close(project=project)


def project_crowd_status(*, project: Project) -> dict:
    """What the admin page shows about a project's crowds, in a handful of queries."""
    publications = list(
        CrowdPublication.objects.filter(project=project)
        .annotate(
            n_hits=Count("hits", distinct=True),
            open_hits=Count("hits", filter=Q(hits__status=CrowdHIT.Status.OPEN), distinct=True),
        )
        .order_by("-pk")[:20]
    )
    states = dict(
        CrowdAssignment.objects.filter(assignment__project=project)
        .values_list("state")
        .annotate(n=Count("pk"))
    )
    panel = PanelConfig.objects.filter(project=project).first()
    committed = project_committed_cents(project=project)
    return {
        "backend": project.crowd_backend,
        "budget_cents": project.budget_cents,
        "committed_cents": committed,
        "remaining_cents": (
            None if project.budget_cents is None else max(0, project.budget_cents - committed)
        ),
        "publications": publications,
        "assignment_states": states,
        "panel": panel,
        "panel_participants": panel.participants.count() if panel else 0,
        "panel_completed": (
            panel.participants.filter(completed_at__isnull=False).count() if panel else 0
        ),
        "mturk_sandbox": conf.mturk_sandbox(),
        "mturk_endpoint": conf.mturk_endpoint_url(),
        "public_base_url": conf.crowds_public_base_url(),
        "checked_at": timezone.now(),
    }

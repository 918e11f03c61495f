"""Box pages: the draw page (one image, one box), the verification grids (quality, coverage) and
a project's box page for staff (progress, agreement, costs; bring accepted images in)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from labeling.models import Project
from labeling.permissions import can_label

from .audit import box_audit_next
from .models import TaskKind
from .project_settings import box_settings_get
from .scheduler import box_task_next_for_worker
from .selectors import INSTRUCTIONS, box_assignment_payload, box_costs, box_progress
from .services import box_images_sync


def _labelable(request, slug: str) -> Project:
    project = get_object_or_404(Project, slug=slug, active=True)
    if not can_label(request.user, project):
        raise PermissionDenied("you are not an annotator of this project")
    return project


def _first(request, project: Project, kind: str) -> dict | None:
    assignment = box_task_next_for_worker(project=project, worker=request.user, kind=kind)
    return box_assignment_payload(assignment=assignment) if assignment else None


@never_cache
@login_required
@require_GET
def draw_page(request, slug: str):
    """One image, the synset's definition, the accepted boxes greyed: draw one more box."""
    project = _labelable(request, slug)
    config = box_settings_get(project=project)
    return render(
        request,
        "boxes/draw.html",
        {
            "project": project,
            "task": _first(request, project, TaskKind.DRAW),
            "next_url": reverse("api-box-next", args=[project.slug]),
            "min_box_px": config.min_box_px,
            "instruction": INSTRUCTIONS[TaskKind.DRAW],
        },
    )


@never_cache
@login_required
@require_GET
def verify_page(request, slug: str, kind: str):
    """The keyboard grid over boxes (quality) or boxed images (coverage)."""
    if kind not in (TaskKind.QUALITY, TaskKind.COVERAGE):
        raise Http404("no such verification")
    project = _labelable(request, slug)
    return render(
        request,
        "boxes/verify.html",
        {
            "project": project,
            "kind": kind,
            "task": _first(request, project, kind),
            "instruction": INSTRUCTIONS[TaskKind(kind)],
        },
    )


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def box_project_page(request, slug: str):
    """Staff: box progress per synset, agreement, costs per task type; POST brings the
    project's newly accepted images into the loop."""
    if not request.user.is_staff:
        raise PermissionDenied("staff only")
    project = get_object_or_404(Project, slug=slug)
    if request.method == "POST":
        added = box_images_sync(project=project)
        messages.success(request, f"{added} accepted images entered the box loop.")
        return redirect("boxes:project", slug=project.slug)
    return render(
        request,
        "boxes/project.html",
        {
            "project": project,
            "progress": box_progress(project=project),
            "costs": box_costs(project=project),
            "config": box_settings_get(project=project),
        },
    )


@never_cache
@login_required
@require_GET
def box_audit_page(request, slug: str):
    """Staff: the audit's draw page — box every instance of each sampled covered image, without
    the crowd's boxes (your own boxes so far are grey); press n when the image is done."""
    if not request.user.is_staff:
        raise PermissionDenied("staff only")
    project = get_object_or_404(Project, slug=slug)
    config = box_settings_get(project=project)
    task = box_audit_next(project=project, reviewer=request.user)
    return render(
        request,
        "boxes/draw.html",
        {
            "project": project,
            "task": task,
            "next_url": reverse("api-box-audit-next", args=[project.slug]),
            "min_box_px": config.min_box_px,
            "instruction": "Audit: box every instance, one box at a time; press n when done.",
        },
    )

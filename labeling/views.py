"""Labeling pages: the annotator's image grid and the images it shows (annotators and staff)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from candidates.models import Candidate

from .hits.scheduler import hit_next_for_worker
from .hits.selectors import hit_payload, worker_stats
from .models import Project
from .permissions import can_label

INSTRUCTION = (
    "Select every image that shows this, regardless of occlusion, number of objects and clutter."
)
# Served images get a fixed image type from a whitelist and nosniff, so an upload is never
# rendered as HTML (Label Studio's stored XSS through a guessed Content-Type, product.md §3).
IMAGE_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "GIF": "image/gif", "WEBP": "image/webp"}


def _require_labeler(user) -> None:
    if not can_label(user):
        raise PermissionDenied("Only annotators and staff may label.")


@never_cache
@login_required
@require_GET
def annotator_grid_page(request, slug: str):
    """The grid; the first HIT is rendered in the HTML so the first images load at once."""
    _require_labeler(request.user)
    project = get_object_or_404(Project, slug=slug, active=True)
    assignment = hit_next_for_worker(project=project, worker=request.user)
    hit = hit_payload(assignment=assignment) if assignment else None
    stats = worker_stats(worker=request.user, project=project)
    return render(
        request,
        "labeling/grid.html",
        {
            "project": project,
            "hit": hit,
            "stats": stats,
            "earnings": f"${stats['earnings_cents'] / 100:.2f}",
            "instruction": INSTRUCTION,
        },
    )


def _serve(field, content_type: str) -> FileResponse:
    if not field:
        raise Http404("no file")
    try:
        handle = field.open("rb")
    except (FileNotFoundError, OSError):
        raise Http404("file missing") from None
    response = FileResponse(handle, content_type=content_type)
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Disposition"] = "inline"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    # Thumbnails never change for a candidate id; private because access is checked.
    response["Cache-Control"] = "private, max-age=86400"
    return response


@login_required
@require_GET
def thumbnail(request, candidate_id: int):
    _require_labeler(request.user)
    candidate = get_object_or_404(
        Candidate.objects.only("thumbnail"), pk=candidate_id, status=Candidate.Status.STORED
    )
    # Thumbnails are always written as JPEG by candidates.images.
    return _serve(candidate.thumbnail, "image/jpeg")


@login_required
@require_GET
def image(request, candidate_id: int):
    _require_labeler(request.user)
    candidate = get_object_or_404(
        Candidate.objects.only("image", "format"), pk=candidate_id, status=Candidate.Status.STORED
    )
    content_type = IMAGE_TYPES.get(candidate.format.upper())
    if content_type is None:
        # Formats browsers may not render (TIFF, BMP): the JPEG thumbnail is the large view.
        return _serve(candidate.thumbnail, "image/jpeg")
    return _serve(candidate.image, content_type)

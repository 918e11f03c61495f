"""Candidate pages and image serving (admins)."""

from __future__ import annotations

from functools import wraps

from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from synsets.models import Synset

from . import queries, selectors
from .models import Candidate, CollectionJob
from .serving import IMAGE_TYPES, image_response


def _staff_only(view):
    """Candidate files are for admins (annotators see theirs through the labeling views, scoped
    to their projects): anonymous users are sent to log in, other signed-in users get 403."""

    @login_required
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not request.user.is_staff:
            raise PermissionDenied("Only admins may see candidate files.")
        return view(request, *args, **kwargs)

    return wrapped


@_staff_only
def candidate_thumbnail(request, pk: int):
    candidate = get_object_or_404(Candidate.objects.only("thumbnail"), pk=pk)
    return image_response(candidate.thumbnail)


@_staff_only
def candidate_image(request, pk: int):
    candidate = get_object_or_404(Candidate.objects.only("image", "format"), pk=pk)
    return image_response(
        candidate.image, content_type=IMAGE_TYPES.get(candidate.format, "image/jpeg")
    )


@staff_member_required
def synset_candidates_page(request, wnid: str):
    synset = get_object_or_404(Synset, wnid=wnid)
    status = request.GET.get("status", Candidate.Status.STORED)
    if status not in Candidate.Status.values:
        status = Candidate.Status.STORED
    page = Paginator(selectors.candidate_list(wnid=wnid, status=status), 60).get_page(
        request.GET.get("page")
    )
    context = {
        "synset": synset,
        "queries": queries.synset_queries_ensure(synset=synset),
        "status": status,
        "statuses": Candidate.Status.choices,
        "counts": selectors.candidate_status_counts(wnid=wnid),
        "reject_counts": selectors.candidate_reject_counts(wnid=wnid),
        "page": page,
    }
    return render(request, "candidates/synset.html", context)


@staff_member_required
@require_POST
def search_query_add_view(request, wnid: str):
    synset = get_object_or_404(Synset, wnid=wnid)
    try:
        queries.search_query_add(
            synset=synset,
            text=request.POST.get("text", ""),
            language=(request.POST.get("language") or "eng")[:8],
        )
    except ValueError as exc:
        messages.error(request, str(exc))
    return redirect("candidates:synset", wnid=wnid)


@staff_member_required
@require_POST
def search_query_toggle_view(request, wnid: str, pk: int):
    query = get_object_or_404(selectors.search_query_list(wnid=wnid), pk=pk)
    queries.search_query_set_enabled(query_id=query.pk, enabled=not query.enabled)
    return redirect("candidates:synset", wnid=wnid)


@staff_member_required
def collection_jobs_page(request):
    jobs = selectors.collection_job_list()[:50]
    return render(request, "candidates/jobs.html", {"jobs": jobs})


@staff_member_required
def collection_job_page(request, pk: int):
    job = get_object_or_404(CollectionJob, pk=pk)
    return render(request, "candidates/job.html", {"job": job})

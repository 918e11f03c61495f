"""Labeling pages: the annotator's image grid and the images it shows (annotators and staff),
invite sign-up for the built-in crowd, and a worker's own stats page."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import get_user_model, login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import UserCreationForm
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError
from django.db.models import Count, Sum
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from candidates.models import Candidate
from candidates.serving import candidate_view_response

from .hits.scheduler import hit_next_for_worker
from .hits.selectors import hit_payload, worker_stats
from .invites import (
    DEFAULT_INVITE_DAYS,
    MAX_INVITE_DAYS,
    InviteError,
    InviteExpired,
    invite_create,
    invite_join,
    invite_redeem,
    invite_resolve,
)
from .models import Assignment, Item, Project, WorkerProfile
from .permissions import can_label, is_worker, projects_labelable_by
from .projects import project_can_edit
from .roles import USER_BACKEND

INSTRUCTION = (
    "Select every image that shows this, regardless of occlusion, number of objects and clutter."
)


def _require_worker(user) -> None:
    if not is_worker(user):
        raise PermissionDenied("Only annotators and staff may label.")


def _require_candidate_visible(user, candidate_id: int) -> None:
    """Staff see every stored image; an annotator only the images of projects they may label."""
    if user.is_staff:
        return
    visible = Item.objects.filter(
        candidate_id=candidate_id, project__in=projects_labelable_by(user)
    ).exists()
    if not visible:
        raise PermissionDenied("This image is not part of a project you label.")


@never_cache
@login_required
@require_GET
def annotator_grid_page(request, slug: str):
    """The grid; the first HIT is rendered in the HTML so the first images load at once."""
    project = get_object_or_404(Project, slug=slug, active=True)
    if not can_label(request.user, project):
        raise PermissionDenied("You are not an annotator of this project.")
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


@login_required
@require_GET
def thumbnail(request, candidate_id: int):
    _require_candidate_visible(request.user, candidate_id)
    candidate = get_object_or_404(
        Candidate.objects.only("thumbnail"), pk=candidate_id, status=Candidate.Status.STORED
    )
    return candidate_view_response(candidate, large=False)


@login_required
@require_GET
def image(request, candidate_id: int):
    _require_candidate_visible(request.user, candidate_id)
    candidate = get_object_or_404(
        Candidate.objects.only("image", "format"), pk=candidate_id, status=Candidate.Status.STORED
    )
    # Formats browsers may not render (TIFF, BMP): the JPEG thumbnail is the large view.
    return candidate_view_response(candidate, large=True)


# -- the built-in crowd: invite sign-up, invite creation, a worker's own stats -----------------

FLAG_LABELS = {
    "too_fast": "Some HITs were answered faster than the images can be looked at.",
    "constant_yes": "Every image was selected in several HITs in a row.",
    "constant_no": "No image was selected in several HITs in a row.",
}


class InviteSignupForm(UserCreationForm):
    """Username and password (twice), checked by Django's password validators."""

    class Meta(UserCreationForm.Meta):
        model = get_user_model()
        fields = ("username",)


@never_cache
@require_http_methods(["GET", "POST"])
def invite_signup_page(request, token: str):
    """A new person signs up through an invite link and lands on the project's grid."""
    try:
        invite = invite_resolve(token=token)
    except InviteError as error:
        status = 410 if isinstance(error, InviteExpired) else 404
        return render(
            request, "labeling/invite_invalid.html", {"message": str(error)}, status=status
        )
    if request.user.is_authenticated:
        if request.method == "POST":
            try:
                project = invite_join(token=token, user=request.user)
            except InviteError as error:
                return render(
                    request, "labeling/invite_invalid.html", {"message": str(error)}, status=403
                )
            return redirect("labeling:grid", slug=project.slug)
        return render(request, "labeling/invite_signup.html", {"invite": invite, "form": None})
    form = InviteSignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user, project = invite_redeem(
                token=token,
                username=form.cleaned_data["username"],
                password=form.cleaned_data["password1"],
            )
        except InviteError as error:
            return render(
                request, "labeling/invite_invalid.html", {"message": str(error)}, status=410
            )
        except IntegrityError:
            # Two sign-ups raced for the same username; the form's uniqueness check lost.
            form.add_error("username", "A user with that username already exists.")
        else:
            login(request, user, backend=USER_BACKEND)
            return redirect("labeling:grid", slug=project.slug)
    return render(request, "labeling/invite_signup.html", {"invite": invite, "form": form})


@login_required
@require_http_methods(["GET", "POST"])
def invite_create_page(request, slug: str):
    """Staff who may edit the project create a link (valid 1–90 days) to share."""
    project = get_object_or_404(Project, slug=slug)
    if not (request.user.is_staff and project_can_edit(project=project, user=request.user)):
        raise PermissionDenied("Only the project's owners may invite annotators.")
    link = expires_days = None
    if request.method == "POST":
        try:
            expires_days = int(request.POST.get("days", DEFAULT_INVITE_DAYS))
            token = invite_create(project=project, days=expires_days)
        except ValueError:
            messages.error(request, f"An invite lasts 1 to {MAX_INVITE_DAYS} days.")
        else:
            link = request.build_absolute_uri(reverse("labeling:invite", args=[token]))
    return render(
        request,
        "labeling/invite_create.html",
        {
            "project": project,
            "link": link,
            "days": expires_days or DEFAULT_INVITE_DAYS,
            "max_days": MAX_INVITE_DAYS,
        },
    )


def _worker_projects(worker) -> list[dict]:
    """Submitted HITs and earnings per project for one worker."""
    return list(
        Assignment.objects.filter(worker=worker, status=Assignment.Status.SUBMITTED)
        .values("project__slug", "project__name", "project__active")
        .annotate(hits=Count("pk"), cents=Sum("reward_cents"))
        .order_by("project__name")
    )


@never_cache
@login_required
@require_GET
def my_stats_page(request):
    """The worker's own record: HITs, votes, smoothed gold accuracy, earnings and flags."""
    _require_worker(request.user)
    stats = worker_stats(worker=request.user)
    profile = WorkerProfile.objects.filter(user=request.user).first()
    flags = []
    for name, entry in sorted(((profile.flags or {}) if profile else {}).items()):
        if isinstance(entry, dict) and "count" in entry:
            flags.append(
                {
                    "name": name,
                    "label": FLAG_LABELS.get(name, name.replace("_", " ")),
                    "count": entry["count"],
                }
            )
    projects = [
        {**row, "earnings": f"${(row['cents'] or 0) / 100:.2f}"}
        for row in _worker_projects(request.user)
    ]
    gold = stats["gold_accuracy"]
    return render(
        request,
        "labeling/me.html",
        {
            "stats": stats,
            "gold_percent": None if gold is None else f"{gold * 100:.0f}%",
            "earnings": f"${stats['earnings_cents'] / 100:.2f}",
            "flags": flags,
            "blocked_reason": profile.blocked_reason if profile and profile.blocked else "",
            "projects": projects,
        },
    )

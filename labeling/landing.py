"""Where people land: after logging in, staff go to the projects overview and annotators to
/label/, the list of the projects they may label with how far each has come."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from .permissions import projects_labelable_by
from .progress import projects_progress


@login_required
@require_GET
def start_redirect(request):
    """The page after login (unless ``next`` says otherwise)."""
    if request.user.is_staff:
        return redirect("dashboards:index")
    return redirect("labeling:index")


@never_cache
@login_required
@require_GET
def label_index_page(request):
    """The projects the signed-in user may label, with the project's progress and their own."""
    projects = projects_labelable_by(request.user).order_by("name")
    rows = projects_progress(projects=projects, worker=request.user)
    return render(request, "labeling/index.html", {"rows": rows})

"""Who may see dashboards, audits and exports: staff read every project's pages; only the
project's owners and superusers change anything from them (block or unblock a worker, start an
export or an audit). Anonymous visitors are sent to log in; signed-in non-staff (annotators) get
403 — not the admin login that ``staff_member_required`` would show, which reads as "log in
again" to someone who is already signed in."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import JsonResponse

from labeling.projects import project_can_edit


def staff_required(view: Callable) -> Callable:
    @login_required
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not request.user.is_staff:
            raise PermissionDenied("Only admins may see this page.")
        return view(request, *args, **kwargs)

    return wrapped


def staff_required_json(view: Callable) -> Callable:
    """For JSON endpoints polled by scripts: 401/403 as JSON instead of a login redirect."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return JsonResponse({"detail": "Authentication required."}, status=401)
        if not request.user.is_staff:
            return JsonResponse({"detail": "Only admins may use this endpoint."}, status=403)
        return view(request, *args, **kwargs)

    return wrapped


def project_change_check(*, project, user) -> None:
    """Raise PermissionDenied unless ``user`` may change ``project`` (its owners, superusers)."""
    if not (
        user.is_authenticated and user.is_staff and project_can_edit(project=project, user=user)
    ):
        raise PermissionDenied("Only the project's owners may change it.")

"""Who may see dashboards, audits and exports: staff only. Anonymous visitors are sent to log in;
signed-in non-staff (annotators) get 403 — not the admin login that ``staff_member_required``
would show, which reads as "log in again" to someone who is already signed in."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import JsonResponse


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

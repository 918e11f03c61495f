"""Who may label: annotators (the ``annotators`` group) and staff."""

from __future__ import annotations

from rest_framework.permissions import BasePermission

from .roles import is_annotator


def can_label(user) -> bool:
    return bool(user.is_authenticated and (user.is_staff or is_annotator(user)))


class IsAnnotatorOrStaff(BasePermission):
    message = "Only annotators and staff may label."

    def has_permission(self, request, view) -> bool:
        return can_label(request.user)


class IsStaff(BasePermission):
    def has_permission(self, request, view) -> bool:
        return bool(request.user.is_authenticated and request.user.is_staff)

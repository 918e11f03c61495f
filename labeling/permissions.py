"""Who may label what.

- Built-in annotators (the ``annotators`` group) label the projects they were invited to (a
  ``ProjectMember`` row) and the projects open to all annotators.
- Project owners and superusers may label their projects (to try a HIT out).
- Panel participants and MTurk workers are not annotators: they label only through their crowd's
  own flow (the panel link's quota and payments, MTurk's pending-until-confirmed votes), never
  through ``/label/`` or the worker API.
- Staff who do not own a project are not its annotators unless they are invited like anyone else.
"""

from __future__ import annotations

from django.db.models import Exists, OuterRef, Q, QuerySet
from rest_framework.permissions import BasePermission

from .models import Project, ProjectMember
from .roles import is_annotator


def label_access(user, *, project: str = "pk") -> dict[str, Exists]:
    """Annotations that let the query reading a project (or a row with a ``project`` key:
    ``project="project_id"``) also answer ``can_label``'s owner and member question for
    ``user``; pass the row's ``label_owner`` and ``label_member`` to ``can_label(access=…)``.
    One statement instead of two on every worker API request."""
    return {
        "label_owner": Exists(
            Project.owners.through.objects.filter(project_id=OuterRef(project), user=user)
        ),
        "label_member": Exists(
            ProjectMember.objects.filter(project_id=OuterRef(project), user=user)
        ),
    }


def can_label(user, project: Project, *, access: tuple[bool, bool] | None = None) -> bool:
    """May ``user`` take HITs of ``project`` through /label/ and the worker API? (Whether the
    project is still active is the caller's question: a closed project's refusal has its own
    words.) ``access``: (owner, member) of this user and project, when the caller read them with
    the project (``label_access``)."""
    if not (user.is_authenticated and user.is_active):
        return False
    if user.is_superuser:
        return True
    if access is None:
        # Owner and member in one query: this runs on every worker API request.
        access = (
            Project.objects.filter(pk=project.pk)
            .annotate(**label_access(user))
            .values_list("label_owner", "label_member")
            .first()
        ) or (False, False)
    owner, member = access
    if owner:
        return True
    return is_annotator(user) and (project.open_to_all_annotators or member)


def projects_labelable_by(user) -> QuerySet[Project]:
    """The active projects ``user`` may label (same rule as ``can_label``)."""
    if not (user.is_authenticated and user.is_active):
        return Project.objects.none()
    active = Project.objects.filter(active=True)
    if user.is_superuser:
        return active
    rule = Q(owners=user)
    if is_annotator(user):
        member = ProjectMember.objects.filter(project=OuterRef("pk"), user=user)
        rule |= Q(open_to_all_annotators=True) | Q(Exists(member))
    return active.filter(rule).distinct()


def is_worker(user) -> bool:
    """A built-in labeler of some kind (for the worker's own pages: stats, /label/me/)."""
    return bool(user.is_authenticated and user.is_active and (user.is_staff or is_annotator(user)))


class IsAnnotatorOrStaff(BasePermission):
    """The worker API's first gate; each view then checks the project (``can_label``)."""

    message = "Only annotators and staff may label."

    def has_permission(self, request, view) -> bool:
        return is_worker(request.user)


class IsStaff(BasePermission):
    def has_permission(self, request, view) -> bool:
        return bool(request.user.is_authenticated and request.user.is_staff)

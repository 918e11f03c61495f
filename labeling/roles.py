"""Roles: admins are Django staff users; annotators are members of the ``annotators`` group."""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, Group
from django.db import transaction

ANNOTATORS_GROUP = "annotators"


def is_annotator(user) -> bool:
    return bool(user.is_authenticated and user.groups.filter(name=ANNOTATORS_GROUP).exists())


@transaction.atomic
def annotator_create(
    *, username: str, password: str | None, projects: Iterable = ()
) -> AbstractBaseUser:
    """Create (or fetch) an annotator account; a new password is set only when given. The
    annotator is admitted to ``projects`` (see ``project_member_add``)."""
    user, created = get_user_model().objects.get_or_create(username=username)
    if password is not None:
        user.set_password(password)
        user.save(update_fields=["password"])
    group, _ = Group.objects.get_or_create(name=ANNOTATORS_GROUP)
    user.groups.add(group)
    for project in projects:
        project_member_add(project=project, user=user, source="owner")
    return user


def project_member_add(*, project, user: AbstractBaseUser, source: str = "invite") -> None:
    """Admit an annotator to a project that is not open to all annotators. Idempotent."""
    from .models import ProjectMember

    ProjectMember.objects.get_or_create(project=project, user=user, defaults={"source": source})


@transaction.atomic
def admin_create(*, username: str, password: str) -> AbstractBaseUser:
    """Create or reset a staff (admin) account with the given password."""
    user, _ = get_user_model().objects.get_or_create(username=username)
    user.is_staff = True
    user.is_superuser = True
    user.set_password(password)
    user.save()
    return user

"""Roles: admins are Django staff users; annotators are members of the ``annotators`` group."""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, Group
from django.db import transaction

ANNOTATORS_GROUP = "annotators"


# The answer is kept on the user object for the rest of the request (the worker API asks it in
# its permission class and again in the project check), the way Django's ModelBackend keeps a
# user's permissions; ``annotator_group_add`` sets it when it adds the user to the group.
_ANNOTATOR_MEMO = "_synsetlab_is_annotator"


def is_annotator(user) -> bool:
    if not user.is_authenticated:
        return False
    memo = getattr(user, _ANNOTATOR_MEMO, None)
    if memo is None:
        memo = user.groups.filter(name=ANNOTATORS_GROUP).exists()
        setattr(user, _ANNOTATOR_MEMO, memo)
    return memo


def annotator_group_add(user: AbstractBaseUser) -> None:
    """Make ``user`` a built-in annotator (idempotent)."""
    group, _ = Group.objects.get_or_create(name=ANNOTATORS_GROUP)
    user.groups.add(group)
    setattr(user, _ANNOTATOR_MEMO, True)


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
    annotator_group_add(user)
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

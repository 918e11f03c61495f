"""Roles: admins are Django staff users; annotators are members of the ``annotators`` group."""

from __future__ import annotations

import functools
from collections.abc import Iterable

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import AbstractBaseUser, Group
from django.db import connection, transaction

ANNOTATORS_GROUP = "annotators"


# The answer is kept on the user object for the rest of the request (the worker API asks it in
# its permission class and again in the project check), the way Django's ModelBackend keeps a
# user's permissions; ``AnnotatorRoleBackend`` reads it with the signed-in user, and
# ``annotator_group_add`` sets it when it adds the user to the group.
_ANNOTATOR_MEMO = "_synsetlab_is_annotator"


def is_annotator(user) -> bool:
    if not user.is_authenticated:
        return False
    memo = getattr(user, _ANNOTATOR_MEMO, None)
    if memo is None:
        memo = user.groups.filter(name=ANNOTATORS_GROUP).exists()
        setattr(user, _ANNOTATOR_MEMO, memo)
    return memo


@functools.cache
def _user_with_role_sql() -> tuple[str, tuple[str, ...]]:
    """The statement that loads a user by primary key with an ``EXISTS`` over their membership
    in the annotators group as its last column, and the attribute names of the other columns.
    Built once per process: table and column names from the models, quoted; the group's name
    and the key stay parameters."""
    model = get_user_model()
    quote = connection.ops.quote_name
    users = quote(model._meta.db_table)
    fields = model._meta.concrete_fields
    columns = ", ".join(f"{users}.{quote(field.column)}" for field in fields)
    memberships = quote(model.groups.through._meta.db_table)
    sql = (
        f"SELECT {columns}, EXISTS (SELECT 1 FROM {memberships} m"  # noqa: S608
        f" JOIN {quote(Group._meta.db_table)} g ON g.id = m.group_id"
        f" WHERE m.user_id = {users}.{quote(model._meta.pk.column)} AND g.name = %s)"
        f" FROM {users} WHERE {users}.{quote(model._meta.pk.column)} = %s"
    )
    return sql, tuple(field.attname for field in fields)


class AnnotatorRoleBackend(ModelBackend):
    """Django's ``ModelBackend``, reading the annotator role in the statement that loads the
    signed-in user on every request: one statement instead of two, as every worker API request
    asks the role (``is_annotator``).

    The statement is written out and the row becomes a user through ``Model.from_db``, as the
    ORM's own query does: building and compiling that query (an annotation and a filter) cost
    0.4–0.6 ms of CPU on every request, against 0.1 ms for running it and making the user."""

    def get_user(self, user_id):
        model = get_user_model()
        sql, attnames = _user_with_role_sql()
        with connection.cursor() as cursor:
            cursor.execute(sql, [ANNOTATORS_GROUP, user_id])
            row = cursor.fetchone()
        if row is None:
            return None
        user = model.from_db(connection.alias, attnames, row[:-1])
        setattr(user, _ANNOTATOR_MEMO, bool(row[-1]))
        return user if self.user_can_authenticate(user) else None


# What ``login(request, user, backend=…)`` names where no password was checked.
USER_BACKEND = f"{AnnotatorRoleBackend.__module__}.{AnnotatorRoleBackend.__qualname__}"


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

"""Staff cannot make themselves superuser through the Django admin (CVAT's privilege escalation,
docs/architecture.md §6), even when they hold the permission to change users."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.test import Client

pytestmark = pytest.mark.django_db


@pytest.fixture
def user_manager(db):
    staff = get_user_model().objects.create_user(
        username="manager", password="pw-manager-123", is_staff=True
    )
    staff.user_permissions.add(
        *Permission.objects.filter(codename__in=["change_user", "view_user"])
    )
    return staff


def _change(client: Client, user, **fields) -> int:
    data = {
        "username": user.username, "is_active": "on", "is_staff": "on",
        "date_joined_0": "2026-01-01", "date_joined_1": "00:00:00",
        "initial-date_joined_0": "2026-01-01", "initial-date_joined_1": "00:00:00",
        **fields,
    }  # fmt: skip
    return client.post(f"/admin/auth/user/{user.pk}/change/", data).status_code


def test_staff_with_user_change_permission_cannot_grant_superuser(user_manager):
    client = Client()
    client.force_login(user_manager)
    page = client.get(f"/admin/auth/user/{user_manager.pk}/change/")
    assert page.status_code == 200
    assert b'name="is_superuser"' not in page.content
    assert b'name="user_permissions"' not in page.content
    _change(client, user_manager, is_superuser="on",
            user_permissions=[p.pk for p in Permission.objects.all()[:50]])  # fmt: skip
    user_manager.refresh_from_db()
    assert not user_manager.is_superuser
    assert user_manager.user_permissions.count() == 2


def test_staff_cannot_edit_a_superuser_account(user_manager):
    root = get_user_model().objects.create_superuser(username="root", password="pw-root-123")
    client = Client()
    client.force_login(user_manager)
    _change(client, root, username="root", is_superuser="")
    assert client.get(f"/admin/auth/user/{root.pk}/password/").status_code in (403, 404, 302)
    root.refresh_from_db()
    assert root.is_superuser and root.check_password("pw-root-123")


def test_superusers_still_manage_superuser_status(user_manager):
    root = get_user_model().objects.create_superuser(username="root", password="pw-root-123")
    admin_client = Client()
    admin_client.force_login(root)
    page = admin_client.get(f"/admin/auth/user/{user_manager.pk}/change/")
    assert b'name="is_superuser"' in page.content

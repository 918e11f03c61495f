"""The signed-in user's annotator role is read with the user (``AnnotatorRoleBackend``): one
statement per request instead of two, and never an answer older than the request."""

from __future__ import annotations

import pytest
from django.contrib.auth import BACKEND_SESSION_KEY, get_user_model
from django.contrib.auth.models import Group
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from labeling.roles import ANNOTATORS_GROUP, USER_BACKEND, annotator_create

pytestmark = pytest.mark.django_db

STATS = "/api/me/stats/"


def _statements(client: Client, path: str) -> tuple[int, list[str]]:
    with CaptureQueriesContext(connection) as queries:
        status = client.get(path).status_code
    return status, [query["sql"] for query in queries.captured_queries]


def _mentions_groups(sql: str) -> bool:
    return connection.ops.quote_name(Group._meta.db_table) in sql


def _reads_users(sql: str) -> bool:
    return f"FROM {connection.ops.quote_name(get_user_model()._meta.db_table)}" in sql


def test_the_role_is_read_in_the_statement_that_loads_the_user():
    annotator = annotator_create(username="ann", password=None)
    client = Client()
    client.force_login(annotator, backend=USER_BACKEND)

    status, statements = _statements(client, STATS)

    assert status == 200
    group_reads = [sql for sql in statements if _mentions_groups(sql)]
    assert len(group_reads) == 1
    assert _reads_users(group_reads[0])
    assert "EXISTS" in group_reads[0]


def test_the_form_login_signs_in_through_the_role_backend():
    annotator_create(username="ann", password="a-long-passphrase-42")
    client = Client()

    response = client.post(
        "/accounts/login/", {"username": "ann", "password": "a-long-passphrase-42"}
    )

    assert response.status_code == 302
    assert client.session[BACKEND_SESSION_KEY] == USER_BACKEND
    assert client.get(STATS).status_code == 200


def test_a_role_taken_away_counts_from_the_next_request():
    annotator = annotator_create(username="ann", password=None)
    client = Client()
    client.force_login(annotator, backend=USER_BACKEND)
    assert client.get(STATS).status_code == 200

    annotator.groups.remove(Group.objects.get(name=ANNOTATORS_GROUP))

    assert client.get(STATS).status_code == 403


def test_someone_without_the_role_is_refused():
    user = get_user_model().objects.create_user(username="visitor", password=None)
    client = Client()
    client.force_login(user, backend=USER_BACKEND)

    assert client.get(STATS).status_code == 403


def test_a_deactivated_user_is_signed_out():
    annotator = annotator_create(username="ann", password=None)
    client = Client()
    client.force_login(annotator, backend=USER_BACKEND)
    annotator.is_active = False
    annotator.save(update_fields=["is_active"])

    # DRF answers an anonymous session with 403 (no authentication challenge to offer).
    assert client.get(STATS).status_code == 403
    assert client.get("/label/").status_code == 302  # the page sends them to log in


def test_a_deleted_account_is_signed_out():
    annotator = annotator_create(username="ann", password=None)
    client = Client()
    client.force_login(annotator, backend=USER_BACKEND)
    annotator.delete()

    assert client.get(STATS).status_code == 403
    assert client.get("/label/").status_code == 302


def test_the_backend_loads_the_user_the_orm_loads_with_the_role_beside_it():
    from labeling.roles import AnnotatorRoleBackend, is_annotator

    annotator = annotator_create(username="ann", password="a-long-passphrase-42")
    annotator.first_name, annotator.email = "Ann", "ann@example.org"
    annotator.save()
    outsider = get_user_model().objects.create_user(username="out", password=None)

    loaded = AnnotatorRoleBackend().get_user(annotator.pk)
    expected = get_user_model().objects.get(pk=annotator.pk)
    fields = [field.attname for field in get_user_model()._meta.concrete_fields]
    assert [getattr(loaded, name) for name in fields] == [
        getattr(expected, name) for name in fields
    ]
    assert loaded._state.adding is False and loaded._state.db == "default"
    with CaptureQueriesContext(connection) as queries:
        assert is_annotator(loaded) is True
        assert is_annotator(AnnotatorRoleBackend().get_user(outsider.pk)) is False
    assert len(queries.captured_queries) == 1  # the outsider's load; no role asked apart
    assert AnnotatorRoleBackend().get_user(outsider.pk + annotator.pk + 1) is None


def test_a_session_signed_in_before_the_role_backend_stays_signed_in():
    annotator = annotator_create(username="ann", password=None)
    client = Client()
    client.force_login(annotator, backend="django.contrib.auth.backends.ModelBackend")

    status, statements = _statements(client, STATS)

    assert status == 200
    # The older backend loads the user alone; the role is then asked separately.
    group_reads = [sql for sql in statements if _mentions_groups(sql)]
    assert len(group_reads) == 1
    assert not _reads_users(group_reads[0])

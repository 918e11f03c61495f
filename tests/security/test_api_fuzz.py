"""Fuzz every operation of the OpenAPI schema with schemathesis (bounded examples), signed in as
a staff user and as nobody: no input may produce a 500."""

from __future__ import annotations

import django
import pytest
import schemathesis
from django.conf import settings as django_settings
from hypothesis import HealthCheck, settings

django.setup()

from drf_spectacular.generators import SchemaGenerator  # noqa: E402

from config.wsgi import application  # noqa: E402

EXAMPLES = 20
schema = schemathesis.openapi.from_dict(SchemaGenerator().get_schema(request=None, public=True))
schema.app = application

pytestmark = [pytest.mark.slow, pytest.mark.django_db]


@pytest.fixture(autouse=True)
def _keep_test_connection():
    """As Django's test Client does: the WSGI handler must not close the connection that holds
    the test's transaction at the end of each request."""
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def staff_headers(db, django_user_model):
    from django.utils.crypto import get_random_string

    from tests.factories import project_make, session_signed_in

    user = django_user_model.objects.create_user(username="fuzzer", is_staff=True,
                                                 is_superuser=True)  # fmt: skip
    project = project_make(images=6, name="Fuzz")
    project.owners.add(user)
    csrf = get_random_string(32)
    session_key = session_signed_in(user)
    return {
        "Cookie": f"{django_settings.SESSION_COOKIE_NAME}={session_key}; csrftoken={csrf}",
        "X-CSRFToken": csrf,
    }


def _no_server_error(case, headers):
    response = case.call(app=application, headers=headers)
    assert response.status_code < 500, (case.method, case.formatted_path, case.query,
                                        case.body, response.status_code, response.text[:500])


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_never_answers_500_to_staff(case, staff_headers):
    _no_server_error(case, staff_headers)


@schema.parametrize()
@settings(max_examples=EXAMPLES // 2, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_never_answers_500_to_anonymous(case, db):
    _no_server_error(case, {})

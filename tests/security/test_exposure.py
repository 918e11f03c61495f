"""Issue 13 finding 11: what is exposed to whom.

- The OpenAPI schema and its docs describe every endpoint, admin ones included: signed-in users
  only (the README's rule: anonymous users see the login page and the public WordNet browser).
- Candidate files are for admins: a signed-in user with no role gets 403, as on the labelling
  image view.
- Media files are never served as static files, not even with DEBUG.
"""

from __future__ import annotations

import importlib

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import Resolver404, clear_url_caches, resolve, reverse

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("name", ["schema", "api-docs"])
def test_api_schema_and_docs_need_a_signed_in_user(world, name):
    url = reverse(name)
    assert Client().get(url).status_code in (401, 403)
    client = Client()
    client.force_login(world["annotator"])
    assert client.get(url).status_code == 200


@pytest.mark.parametrize("name", ["candidates:image", "candidates:thumbnail"])
def test_a_signed_in_user_without_a_role_gets_403_on_candidate_files(world, name):
    nobody = get_user_model().objects.create_user(username="norole", password="pw-norole-123")
    client = Client()
    client.force_login(nobody)
    url = reverse(name, args=[world["candidate"].pk])
    assert client.get(url).status_code == 403
    # ... like the labelling image view, which is scoped to the projects one labels.
    labeling = reverse("labeling:image", args=[world["candidate"].pk])
    assert client.get(labeling).status_code == 403
    # Anonymous visitors are sent to log in; staff get the file.
    anonymous = Client().get(url)
    assert anonymous.status_code == 302 and "/login/" in anonymous["Location"]
    staff = Client()
    staff.force_login(world["owner"])
    assert staff.get(url).status_code == 200


def test_media_is_not_served_even_with_debug(world, settings, tmp_path):
    settings.DEBUG = True
    settings.MEDIA_ROOT = str(tmp_path)
    (tmp_path / "originals").mkdir()
    (tmp_path / "originals" / "secret.jpg").write_bytes(b"\xff\xd8\xff")
    import config.urls

    try:
        importlib.reload(config.urls)
        clear_url_caches()
        with pytest.raises(Resolver404):
            resolve("/media/originals/secret.jpg")
        assert Client().get("/media/originals/secret.jpg").status_code == 404
    finally:
        settings.DEBUG = False
        importlib.reload(config.urls)
        clear_url_caches()

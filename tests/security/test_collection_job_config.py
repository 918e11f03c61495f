"""Issue 13 finding 6: a collection job's source and source_config cannot be turned into a server
folder read or loopback access — read-only in the admin once the job exists, checked against the
source's own schema at every entry point (service, admin add form, and again when the job runs),
and loopback access is a setting, never job data."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from candidates.collection import collection_job_create, source_for_job
from candidates.models import CollectionJob
from candidates.sources.base import ConfigurationError
from tests.factories import SynsetFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def superuser():
    return get_user_model().objects.create_superuser(username="root", password="pw-root-123")


@pytest.fixture
def web_job():
    synset = SynsetFactory()
    return collection_job_create(wnids=[synset.wnid], source="openverse")


def test_the_admin_cannot_turn_a_web_job_into_a_folder_read(superuser, web_job, tmp_path):
    client = Client()
    client.force_login(superuser)
    url = reverse("admin:candidates_collectionjob_change", args=[web_job.pk])
    page = client.get(url)
    assert page.status_code == 200
    assert b'name="source"' not in page.content and b'name="source_config"' not in page.content

    client.post(url, {"source": "folder", "source_config": f'{{"root": "{tmp_path}"}}',
                      "status": "pending", "limit_per_synset": "10"})  # fmt: skip

    web_job.refresh_from_db()
    assert web_job.source == "openverse" and web_job.source_config == {}


def test_the_admin_add_form_checks_source_config_by_the_source_schema(superuser):
    client = Client()
    client.force_login(superuser)
    response = client.post(reverse("admin:candidates_collectionjob_add"), {
        "source": "urls", "source_config": '{"path": "/tmp/x.txt", "allow_loopback": true}',
        "wnids": '["n02084071"]', "status": "pending", "limit_per_synset": "10",
        "seen": "0", "stored": "0", "duplicates": "0", "rejected": "0", "synsets_done": "0",
    })  # fmt: skip
    assert response.status_code == 200  # the form again, with the error
    assert b"allow_loopback" in response.content
    assert not CollectionJob.objects.exists()


@pytest.mark.parametrize(
    ("source", "config", "words"),
    [
        ("urls", {"path": "/tmp/list.txt", "allow_loopback": True}, "allow_loopback"),
        ("openverse", {"openverse_url": "http://127.0.0.1:9/"}, "openverse_url"),
        ("folder", {"root": "/", "max_bytes": 10**12}, "max_bytes"),
        ("s3", {"bucket": "b", "secret_key": "x"}, "secret_key"),
        ("folder", {"root": 7}, "'root' must be a str"),
        ("urls", {"path": "/tmp/l.txt", "format": "exe"}, "'format' must be one of"),
        ("openverse", {"page_size": 10**6}, "'page_size' must be 1 to"),
        ("folder", ["not", "a", "dict"], "must be an object"),
    ],
)
def test_the_service_refuses_config_outside_the_schema(source, config, words):
    synset = SynsetFactory()
    with pytest.raises(ValueError, match=words):
        collection_job_create(wnids=[synset.wnid], source=source, source_config=config)
    assert not CollectionJob.objects.exists()


def test_a_stored_row_is_checked_again_when_the_job_runs_and_settings_win(settings, tmp_path):
    synset = SynsetFactory()
    # A row written behind the service's back (a raw update, an old admin edit).
    forged = CollectionJob.objects.create(
        source="urls", wnids=[synset.wnid],
        source_config={"path": str(tmp_path / "l.txt"), "allow_loopback": True},
    )  # fmt: skip
    with pytest.raises(ConfigurationError, match="allow_loopback"):
        source_for_job(forged)

    # A web-made folder job is confined to the roots the operator allows *now*, whatever roots
    # the row names.
    (tmp_path / "allowed").mkdir()
    (tmp_path / "secret").mkdir()
    settings.CANDIDATES_FOLDER_ROOTS = [str(tmp_path / "allowed")]
    widened = CollectionJob.objects.create(
        source="folder", wnids=[synset.wnid],
        source_config={"root": str(tmp_path / "secret"), "allowed_roots": ["/"]},
    )  # fmt: skip
    with pytest.raises(ConfigurationError, match="outside the allowed folders"):
        source_for_job(widened)
    settings.CANDIDATES_FOLDER_ROOTS = []
    with pytest.raises(ConfigurationError, match="no folder is allowed"):
        source_for_job(widened)

"""Originals and thumbnails through django-storages' S3 backend, against a real S3-compatible
server (moto in server mode) on 127.0.0.1."""

from __future__ import annotations

import boto3
import pytest
from moto.server import ThreadedMotoServer

from candidates.storage import blob_store, original_name, thumbnail_name
from tests.factories import jpeg_bytes

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def s3_endpoint():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3_storage(settings, s3_endpoint, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")  # fmt: skip
    client.create_bucket(Bucket="synsetlab-test")
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": "synsetlab-test",
                "endpoint_url": s3_endpoint,
                "region_name": "us-east-1",
                "access_key": "testing",
                "secret_key": "testing",
                "default_acl": None,
                "file_overwrite": False,
            },
        },
    }
    return client


def test_blobs_are_written_once_to_s3(s3_storage):
    data = jpeg_bytes()
    name = original_name("ab" * 32, "JPEG")
    assert blob_store(name, data) == name
    assert blob_store(name, b"other bytes never overwrite") == name
    body = s3_storage.get_object(Bucket="synsetlab-test", Key=name)["Body"].read()
    assert body == data
    keys = [o["Key"] for o in s3_storage.list_objects_v2(Bucket="synsetlab-test")["Contents"]]
    assert keys == [name]


def test_candidate_files_are_served_from_s3(s3_storage, client, admin_user):
    from tests.factories import CandidateFactory

    thumb = jpeg_bytes(color=(1, 2, 3))
    name = blob_store(thumbnail_name("cd" * 32), thumb)
    candidate = CandidateFactory(thumbnail=name)
    # Candidate pages are staff-only; annotators see images through their HITs.
    client.force_login(admin_user)
    response = client.get(f"/candidates/{candidate.pk}/thumbnail")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == thumb
    assert response["Content-Type"] == "image/jpeg"
    assert response["X-Content-Type-Options"] == "nosniff"

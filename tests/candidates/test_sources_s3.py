"""The S3 prefix source against a real S3-compatible server (moto in server mode on 127.0.0.1),
through a real boto3 client: paginated listing, wnid selection, capped reads, errors."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from moto.server import ThreadedMotoServer

from candidates.sources.base import ConfigurationError, SourceError
from candidates.sources.registry import build_source
from candidates.sources.s3 import S3PrefixSource

DOG = "n02084071"
TENCH = "n01440764"
CREDENTIALS = {"access_key": "testing", "secret_key": "testing", "region": "us-east-1"}


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def bucket(endpoint: str, request: pytest.FixtureRequest) -> Iterator[tuple[str, object]]:
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    name = request.node.name.replace("_", "-")[:50].lower()
    client.create_bucket(Bucket=name)
    yield name, client
    for obj in client.list_objects_v2(Bucket=name).get("Contents", []):
        client.delete_object(Bucket=name, Key=obj["Key"])
    client.delete_bucket(Bucket=name)


def _source(endpoint: str, bucket: str, **config: object) -> S3PrefixSource:
    source = build_source(
        "s3",
        {"bucket": bucket, "endpoint_url": endpoint, "allow_loopback": True, **CREDENTIALS,
         **config},
    )  # fmt: skip
    assert isinstance(source, S3PrefixSource)
    return source


def test_listing_is_paginated_and_selects_the_synset(endpoint, bucket):
    name, client = bucket
    for index in range(7):
        client.put_object(Bucket=name, Key=f"train/{DOG}/{DOG}_{index}.JPEG", Body=b"dog%d" % index)
    client.put_object(Bucket=name, Key=f"train/{TENCH}/{TENCH}_1.JPEG", Body=b"tench")
    client.put_object(Bucket=name, Key="train/LICENSE.txt", Body=b"text")
    client.put_object(Bucket=name, Key=f"train/{DOG}/", Body=b"")  # a "folder" marker
    client.put_object(Bucket=name, Key=f"val/{DOG}_9.JPEG", Body=b"outside the prefix")
    source = _source(endpoint, name, prefix="train/")
    source.list_page_size, source.page_size = 3, 4
    list_calls = []
    source.client.meta.events.register(
        "before-call.s3.ListObjectsV2", lambda **kwargs: list_calls.append(kwargs["params"])
    )

    pages = [source.search("ignored", page, wnid=DOG) for page in (1, 2, 3)]

    assert [len(page) for page in pages] == [4, 3, 0]
    assert len(list_calls) == 4  # 10 objects, 3 per ListObjectsV2 call, listed once
    first = pages[0][0]
    assert first.image_url == f"s3://{name}/train/{DOG}/{DOG}_0.JPEG"
    assert (first.title, first.wnid, first.rank) == (f"{DOG}_0.JPEG", DOG, 1)
    assert [r.fetch() for r in pages[1]] == [b"dog4", b"dog5", b"dog6"]
    assert [r.fetch() for r in source.search("q", 1, wnid=TENCH)] == [b"tench"]
    assert len(source.search("q", 1)) == 4  # no wnid: every image under the prefix


def test_keys_without_wnids_serve_every_synset(endpoint, bucket):
    name, client = bucket
    client.put_object(Bucket=name, Key="photos/a.jpg", Body=b"a")
    assert len(_source(endpoint, name).search("q", 1, wnid=DOG)) == 1


def test_oversized_objects_are_never_downloaded(endpoint, bucket):
    name, client = bucket
    client.put_object(Bucket=name, Key="big.jpg", Body=b"\0" * 5000)
    client.put_object(Bucket=name, Key="ok.jpg", Body=b"ok")
    source = _source(endpoint, name, max_bytes=1000)
    assert [r.title for r in source.search("q", 1)] == ["ok.jpg"]
    assert source.skipped == [("big.jpg", "5000 bytes")]


def test_object_that_grew_after_listing_is_read_only_up_to_the_cap(endpoint, bucket):
    name, client = bucket
    client.put_object(Bucket=name, Key="a.jpg", Body=b"small")
    (result,) = _source(endpoint, name, max_bytes=1000).search("q", 1)
    client.put_object(Bucket=name, Key="a.jpg", Body=b"\0" * 50_000)
    assert len(result.fetch()) == 1001


def test_deleted_object_and_missing_bucket_raise_source_errors(endpoint, bucket):
    name, client = bucket
    client.put_object(Bucket=name, Key="a.jpg", Body=b"a")
    (result,) = _source(endpoint, name).search("q", 1)
    client.delete_object(Bucket=name, Key="a.jpg")
    with pytest.raises(SourceError, match="NoSuchKey"):
        result.fetch()
    with pytest.raises(SourceError, match="NoSuchBucket"):
        _source(endpoint, "no-such-bucket").search("q", 1)


def test_unreachable_endpoint_is_a_source_error():
    source = S3PrefixSource(
        bucket="b", endpoint_url="http://127.0.0.1:1", allow_loopback=True,
        access_key="x", secret_key="y", region="us-east-1",
    )  # fmt: skip
    with pytest.raises(SourceError, match="127.0.0.1:1"):  # nothing listens on port 1
        source.search("q", 1)


def test_endpoints_on_internal_addresses_are_refused():
    with pytest.raises(ConfigurationError, match="refused"):
        S3PrefixSource(bucket="b", endpoint_url="http://169.254.169.254/")
    with pytest.raises(ConfigurationError, match="refused"):
        S3PrefixSource(bucket="b", endpoint_url="http://10.0.0.5:9000")
    with pytest.raises(ConfigurationError, match="refused"):
        build_source("s3", {"bucket": "b", "endpoint_url": "http://127.0.0.1:9000"})


def test_bucket_is_required():
    with pytest.raises(ConfigurationError, match="'bucket'"):
        build_source("s3", {"prefix": "x/"})

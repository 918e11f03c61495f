"""Images under an S3 prefix on AWS or any S3-compatible server, listed with boto3's paginated
list_objects_v2 and read with get_object (no HTTP download of our own). Keys select a synset by
wnid exactly as folder paths do (``<prefix>/<wnid>/…``, ``<wnid>_*.JPEG``); the query is
ignored."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import PurePosixPath
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from .base import (
    ConfigurationError,
    ImageSource,
    SourceError,
    SourceResult,
    check_page,
    endpoint_check,
    wnid_in_path,
)
from .folder import DEFAULT_MAX_BYTES, is_image_name

ClientFactory = Callable[[], Any]


class S3PrefixSource(ImageSource):
    """Image objects under ``s3://bucket/prefix``. ``skipped`` lists keys larger than
    ``max_bytes`` (never downloaded)."""

    name = "s3"
    uses_queries = False

    def __init__(
        self,
        *,
        bucket: str,
        prefix: str = "",
        endpoint_url: str | None = None,
        region: str | None = None,
        access_key: str | None = None,
        secret_key: str | None = None,
        session_token: str | None = None,
        max_bytes: int = DEFAULT_MAX_BYTES,
        allow_loopback: bool = False,
        client: Any = None,
        client_factory: ClientFactory | None = None,
        list_page_size: int = 1000,
        page_size: int = 100,
    ) -> None:
        if not bucket:
            raise ConfigurationError("the S3 source needs a bucket")
        if endpoint_url:
            endpoint_check(endpoint_url, allow_loopback=allow_loopback)
        self.bucket, self.prefix = bucket, prefix.lstrip("/")
        self.max_bytes = max_bytes
        self.list_page_size = list_page_size
        self.page_size = page_size
        self.skipped: list[tuple[str, str]] = []
        if client is None:
            factory = client_factory or partial(
                boto3.client,
                "s3",
                endpoint_url=endpoint_url,
                region_name=region,
                aws_access_key_id=access_key,
                aws_secret_access_key=secret_key,
                aws_session_token=session_token,
                # Bounded waits: a stalled listing must not hang a worker past its time limit.
                config=Config(connect_timeout=5, read_timeout=30, retries={"max_attempts": 3}),
            )
            client = factory()
        self.client = client
        self._keys: list[tuple[str, str | None]] | None = None

    def keys(self) -> list[tuple[str, str | None]]:
        """Image keys under the prefix with the wnid each names, in S3's (lexicographic) order;
        listed once."""
        if self._keys is None:
            keys: list[tuple[str, str | None]] = []
            try:
                paginator = self.client.get_paginator("list_objects_v2")
                pages = paginator.paginate(
                    Bucket=self.bucket,
                    Prefix=self.prefix,
                    PaginationConfig={"PageSize": self.list_page_size},
                )
                for listing in pages:
                    for obj in listing.get("Contents", []):
                        key = obj["Key"]
                        if key.endswith("/") or not is_image_name(key):
                            continue
                        if obj.get("Size", 0) > self.max_bytes:
                            self.skipped.append((key, f"{obj['Size']} bytes"))
                            continue
                        keys.append((key, wnid_in_path(key)))
            except (BotoCoreError, ClientError) as exc:
                raise SourceError(f"s3://{self.bucket}/{self.prefix}: {exc}") from exc
            self._keys = keys
        return self._keys

    def _read(self, key: str) -> bytes:
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=key)
            body = response["Body"]
            try:
                # The object may have grown since it was listed: read one byte past the cap.
                return body.read(self.max_bytes + 1)
            finally:
                body.close()
        except (BotoCoreError, ClientError) as exc:
            raise SourceError(f"s3://{self.bucket}/{key}: {exc}") from exc

    def named(self) -> list[tuple[str, str | None]]:
        return [(f"s3://{self.bucket}/{key}", wnid) for key, wnid in self.keys()]

    def refused(self) -> list[tuple[str, str]]:
        self.keys()
        return [(f"s3://{self.bucket}/{key}", f"larger than the cap: {why}")
                for key, why in self.skipped]  # fmt: skip

    def search(self, query: str, page: int, *, wnid: str | None = None) -> list[SourceResult]:
        check_page(page)
        keys = self.keys()
        if wnid and any(named for _, named in keys):
            keys = [(key, named) for key, named in keys if named == wnid]
        start = (page - 1) * self.page_size
        return [
            SourceResult(
                image_url=f"s3://{self.bucket}/{key}",
                title=PurePosixPath(key).name,
                rank=start + index + 1,
                wnid=named,
                fetch=partial(self._read, key),
            )
            for index, (key, named) in enumerate(keys[start : start + self.page_size])
        ]

"""Images under an S3 prefix (any S3-compatible server), listed with boto3 and read without
HTTP downloads of our own. Keys named by wnid select a synset as in the folder source."""

from __future__ import annotations

from functools import partial
from pathlib import PurePosixPath

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from .base import ImageSource, SourceError, SourceResult, endpoint_check, wnid_in_path
from .folder import IMAGE_SUFFIXES


class S3PrefixSource(ImageSource):
    name = "s3"
    uses_queries = False
    page_size = 100

    def __init__(
        self,
        *,
        bucket: str,
        prefix: str = "",
        endpoint_url: str | None = None,
        region: str | None = None,
        access_key: str | None = None,
        secret_key: str | None = None,
        max_bytes: int = 20 * 1024 * 1024,
        allow_loopback: bool = False,
        client=None,
    ) -> None:
        if endpoint_url:
            endpoint_check(endpoint_url, allow_loopback=allow_loopback)
        self.bucket, self.prefix, self.max_bytes = bucket, prefix, max_bytes
        self.client = client or boto3.client(
            "s3", endpoint_url=endpoint_url, region_name=region,
            aws_access_key_id=access_key, aws_secret_access_key=secret_key,
        )  # fmt: skip
        self._keys: list[str] | None = None

    def _list(self) -> list[str]:
        if self._keys is None:
            keys: list[str] = []
            try:
                paginator = self.client.get_paginator("list_objects_v2")
                for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix):
                    keys += [
                        obj["Key"]
                        for obj in page.get("Contents", [])
                        if PurePosixPath(obj["Key"].lower()).suffix in IMAGE_SUFFIXES
                        and obj.get("Size", 0) <= self.max_bytes
                    ]
            except (BotoCoreError, ClientError) as exc:
                raise SourceError(f"s3://{self.bucket}/{self.prefix}: {exc}") from exc
            self._keys = keys
        return self._keys

    def _read(self, key: str) -> bytes:
        try:
            body = self.client.get_object(Bucket=self.bucket, Key=key)["Body"]
            return body.read(self.max_bytes + 1)
        except (BotoCoreError, ClientError) as exc:
            raise SourceError(f"s3://{self.bucket}/{key}: {exc}") from exc

    def search(self, query: str, page: int, *, wnid: str | None = None) -> list[SourceResult]:
        keys = self._list()
        if wnid and any(wnid_in_path(k) for k in keys):
            keys = [k for k in keys if wnid_in_path(k) == wnid]
        start = (page - 1) * self.page_size
        return [
            SourceResult(
                image_url=f"s3://{self.bucket}/{key}",
                title=PurePosixPath(key).name,
                rank=start + index + 1,
                wnid=wnid_in_path(key),
                fetch=partial(self._read, key),
            )  # fmt: skip
            for index, key in enumerate(keys[start : start + self.page_size])
        ]

"""Originals and thumbnails in Django's storage (local files or S3 via django-storages).

Names are content-addressed by SHA-256, so re-running a job or storing the same bytes under two
synsets writes each file once. One level of 256 shard folders per kind: a second level (65,536
folders) made almost every photo of a new collection create two folders (0.55 ms of kernel time
each on a local disk), and a folder of 55,000 files — ImageNet's 14 M images over 256 — is
ordinary for ext4 and XFS. Files stored under the earlier two-level names keep them (the names
are stored on the rows).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from pathlib import Path

from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, default_storage
from django.utils.functional import empty

_EXTENSIONS = {"JPEG": "jpg", "PNG": "png", "GIF": "gif", "WEBP": "webp", "BMP": "bmp",
               "TIFF": "tif"}  # fmt: skip


def original_name(sha256: str, image_format: str) -> str:
    extension = _EXTENSIONS.get(image_format.upper(), "bin")
    return f"originals/{sha256[:2]}/{sha256}.{extension}"


def thumbnail_name(sha256: str) -> str:
    return f"thumbnails/{sha256[:2]}/{sha256}.jpg"


def _local_store(storage: FileSystemStorage, name: str, data: bytes) -> str:
    """Write to a temporary file beside the target and rename it into place: two writers of the
    same content (two jobs, two threads) both succeed and leave one complete file under the
    exact name, where ``Storage.save`` would invent a second name for the loser."""
    path = Path(storage.path(name))
    if path.exists():
        return name
    path.parent.mkdir(parents=True, exist_ok=True, mode=storage.directory_permissions_mode or 0o777)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.chmod(temp, storage.file_permissions_mode or 0o644)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return name


def blob_store(name: str, data: bytes) -> str:
    """Store bytes under ``name`` unless that content is already there; returns the name."""
    if default_storage._wrapped is empty:  # resolve the lazy default storage
        default_storage._setup()
    storage = default_storage._wrapped
    if isinstance(storage, FileSystemStorage):
        return _local_store(storage, name, data)
    if storage.exists(name):
        return name
    return storage.save(name, ContentFile(data))


def blobs_store_begin(
    blobs: Sequence[tuple[str, bytes]], *, pool: Executor | None = None
) -> Callable[[], list[str]]:
    """Start storing several blobs in ``pool``'s threads (file and network writes release the
    GIL, so a batch's writes overlap instead of queueing behind one another) and return a
    function that waits for all of them and returns their names, raising the first failure.
    Without a pool the blobs are stored before this returns."""
    if pool is None or len(blobs) < 2:
        names = [blob_store(name, data) for name, data in blobs]
        return lambda: names
    futures = [pool.submit(blob_store, name, data) for name, data in blobs]
    return lambda: [future.result() for future in futures]


def blobs_store(blobs: Sequence[tuple[str, bytes]], *, pool: Executor | None = None) -> list[str]:
    """Store several blobs, in ``pool``'s threads when given; returns their names."""
    return blobs_store_begin(blobs, pool=pool)()

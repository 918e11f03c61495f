"""Originals and thumbnails in Django's storage (local files or S3 via django-storages).

Names are content-addressed by SHA-256, so re-running a job or storing the same bytes under two
synsets writes each file once.
"""

from __future__ import annotations

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

_EXTENSIONS = {"JPEG": "jpg", "PNG": "png", "GIF": "gif", "WEBP": "webp", "BMP": "bmp",
               "TIFF": "tif"}  # fmt: skip


def original_name(sha256: str, image_format: str) -> str:
    extension = _EXTENSIONS.get(image_format.upper(), "bin")
    return f"originals/{sha256[:2]}/{sha256[2:4]}/{sha256}.{extension}"


def thumbnail_name(sha256: str) -> str:
    return f"thumbnails/{sha256[:2]}/{sha256[2:4]}/{sha256}.jpg"


def blob_store(name: str, data: bytes) -> str:
    """Store bytes under ``name`` unless that content is already there; returns the name."""
    if default_storage.exists(name):
        return name
    return default_storage.save(name, ContentFile(data))

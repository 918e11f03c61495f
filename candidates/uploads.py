"""Inputs a staff user hands to a collection job from the web: an uploaded URL list (stored
under CANDIDATES_UPLOAD_DIR with a name we choose) and a server folder, which must lie under a
root the operator allows in CANDIDATES_FOLDER_ROOTS — after resolving symlinks, so a link
inside an allowed root that points elsewhere is refused too."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from django.conf import settings

from .sources.base import ConfigurationError
from .sources.folder import allowed_path
from .sources.urllist import UrlRow, parse_url_list


class CollectionInputError(ValueError):
    """An input a collection job cannot use; the message says why in words."""


class Upload(Protocol):
    name: str
    size: int | None

    def chunks(self, chunk_size: int | None = None): ...


@dataclass
class StoredUrlList:
    path: Path
    rows: list[UrlRow]
    errors: list[tuple[int, str]]

    @property
    def wnids(self) -> set[str]:
        return {row.wnid for row in self.rows if row.wnid}


def url_list_store(*, upload: Upload) -> StoredUrlList:
    """Check and keep an uploaded CSV/TXT URL list. Refuses (CollectionInputError, nothing kept)
    an empty list, one over CANDIDATES_URL_LIST_MAX_BYTES, one that is not text, and one
    without a single usable URL."""
    cap = settings.CANDIDATES_URL_LIST_MAX_BYTES
    if upload.size is not None and upload.size > cap:
        raise CollectionInputError(
            f"The URL list is {upload.size / 2**20:.1f} MB; the limit is {cap / 2**20:.0f} MB. "
            "Split it, or collect it on the server with `manage.py collect_candidates --urls`."
        )
    chunks, size = [], 0
    for chunk in upload.chunks():
        size += len(chunk)
        if size > cap:
            raise CollectionInputError(f"The URL list is larger than {cap / 2**20:.0f} MB.")
        chunks.append(chunk)
    data = b"".join(chunks)
    if not data.strip():
        raise CollectionInputError("The URL list is empty.")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise CollectionInputError("The URL list is not UTF-8 text (CSV or TXT).") from None
    suffix = ".csv" if upload.name.lower().endswith(".csv") else ".txt"
    rows, errors = parse_url_list(text, fmt="csv" if suffix == ".csv" else "auto")
    if not rows:
        where = "; ".join(f"line {n}: {why}" for n, why in errors[:3])
        raise CollectionInputError(
            f"The URL list has no usable URL ({len(errors)} broken lines{': ' if where else ''}"
            f"{where})."
        )
    folder = Path(settings.CANDIDATES_UPLOAD_DIR)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"url-list-{uuid.uuid4().hex}{suffix}"
    path.write_bytes(data)
    return StoredUrlList(path=path, rows=rows, errors=errors)


def folder_root_check(*, path: str) -> Path:
    """The folder (or archive) a web user asked for, resolved, if it lies under an allowed root
    and exists; CollectionInputError otherwise."""
    roots = list(settings.CANDIDATES_FOLDER_ROOTS)
    if not roots:
        raise CollectionInputError(
            "Collecting from a server folder is off: the operator lists the folders it may "
            "read in CANDIDATES_FOLDER_ROOTS."
        )
    if not path or "\0" in path:
        raise CollectionInputError("Give the folder's path on the server.")
    try:
        resolved = allowed_path(path, roots)
    except ConfigurationError:
        allowed = ", ".join(str(Path(root)) for root in roots)
        raise CollectionInputError(
            f"{path} is outside the folders this server allows ({allowed}); symlinks are "
            "followed before checking."
        ) from None
    if not resolved.exists():
        raise CollectionInputError(f"{path} does not exist on the server.")
    return resolved

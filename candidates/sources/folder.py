"""Images from a local folder, walked recursively, including zip and tar(.gz/.bz2/.xz) archives
whose members are read in place, never extracted.

Selection by synset: ImageNet's own layouts name the wnid — a ``<root>/<wnid>/…`` folder, a
``<wnid>_*.JPEG`` file or a ``<wnid>.tar`` archive (the innermost name wins). When the caller
passes a wnid and any file in the folder is named by a wnid, only that synset's files are
returned; a folder without wnids serves every synset. The search query is ignored.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import os
import stat
import tarfile
import threading
import zipfile
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from .base import (
    ConfigurationError,
    ImageSource,
    SourceError,
    SourceResult,
    check_page,
    wnid_in_path,
)

IMAGE_SUFFIXES = frozenset(
    {".jpg", ".jpeg", ".jpe", ".png", ".gif", ".webp", ".bmp", ".tif", ".tiff"}
)
ZIP_SUFFIXES = (".zip",)
TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tbz", ".tar.xz", ".txz")
DEFAULT_MAX_BYTES = 20 * 1024 * 1024


def is_image_name(name: str) -> bool:
    return PurePosixPath(name.lower()).suffix in IMAGE_SUFFIXES


def safe_member_name(name: str) -> bool:
    """Zip-slip guard: a member must stay inside its archive — no absolute path, Windows drive or
    UNC prefix, and no ``..`` component (backslashes count as separators, as Windows tools
    write them)."""
    normalised = name.replace("\\", "/")
    if not normalised or normalised.startswith("/") or "\0" in normalised:
        return False
    first = normalised.split("/", 1)[0]
    if len(first) >= 2 and first[1] == ":":  # "C:evil.jpg", "C:/evil.jpg"
        return False
    return ".." not in PurePosixPath(normalised).parts


def allowed_path(path: str | Path, allowed_roots: Sequence[str | Path] | None) -> Path:
    """``path`` resolved; with ``allowed_roots``, it must lie inside one of them. Job settings can
    come from the web API, and a folder source must not read the rest of the server."""
    resolved = Path(path).resolve()
    if allowed_roots:
        roots = [Path(root).resolve() for root in allowed_roots]
        if not any(resolved == root or resolved.is_relative_to(root) for root in roots):
            raise ConfigurationError(f"{resolved} is outside the allowed folders")
    return resolved


@dataclass(frozen=True)
class _Entry:
    locator: str
    wnid: str | None
    path: Path
    member: str | None = None
    offset: int = 0  # tar members: where the data starts in the (decompressed) stream
    size: int = 0


def _read_capped(handle: BinaryIO, cap: int) -> bytes:
    # One byte past the cap is enough to know the item is too large; a zip bomb or a lying
    # header never gets decompressed further.
    return handle.read(cap + 1)


def _read_file(path: Path, cap: int) -> bytes:
    try:
        # O_NOFOLLOW: the file was a regular file at scan time; a symlink swapped in since then
        # must not redirect the read elsewhere.
        descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        with os.fdopen(descriptor, "rb") as handle:
            if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                raise SourceError(f"{path}: not a regular file")
            return _read_capped(handle, cap)
    except OSError as exc:
        raise SourceError(f"{path}: {exc.strerror or exc}") from exc


def _open_tar_stream(path: Path) -> BinaryIO:
    """The archive's uncompressed tar stream, seekable (compressed formats seek by
    decompressing, so reading members in order costs one pass)."""
    with path.open("rb") as probe:
        magic = probe.read(6)
    if magic.startswith(b"\x1f\x8b"):
        return gzip.open(path, "rb")
    if magic.startswith(b"BZh"):
        return bz2.open(path, "rb")
    if magic.startswith(b"\xfd7zXZ\x00"):
        return lzma.open(path, "rb")
    return path.open("rb")


class LocalFolderSource(ImageSource):
    """Every image file and archive member under ``root`` (a folder, or one archive file).

    ``skipped`` lists what was refused and why: symlinks, special files, unsafe or oversized
    archive members, unreadable archives.
    """

    name = "folder"
    uses_queries = False

    def __init__(
        self,
        root: str | Path,
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        allowed_roots: Sequence[str | Path] | None = None,
        page_size: int = 100,
    ) -> None:
        self.root = allowed_path(root, allowed_roots)
        if not self.root.exists():
            raise ConfigurationError(f"{self.root} does not exist")
        self.max_bytes = max_bytes
        self.page_size = page_size
        self.skipped: list[tuple[str, str]] = []
        self._entries: list[_Entry] | None = None
        # Archives stay open between reads: reopening a big zip re-parses its central directory,
        # reopening a .tar.gz decompresses from the start. One lock per archive handle.
        self._handles: dict[Path, tuple[threading.Lock, zipfile.ZipFile | BinaryIO]] = {}
        self._handles_lock = threading.Lock()

    # -- scanning ------------------------------------------------------------------------------

    def entries(self) -> list[_Entry]:
        if self._entries is None:
            entries: list[_Entry] = []
            for path in [self.root] if self.root.is_file() else self._walk():
                lower = path.name.lower()
                if lower.endswith(ZIP_SUFFIXES):
                    entries += self._zip_entries(path)
                elif lower.endswith(TAR_SUFFIXES):
                    entries += self._tar_entries(path)
                elif is_image_name(lower):
                    entries.append(_Entry(f"file://{path}", self._wnid(path), path))
            self._entries = entries
        return self._entries

    def _wnid(self, path: Path, member: str = "") -> str | None:
        relative = path.name if path == self.root else str(path.relative_to(self.root))
        return wnid_in_path(f"{relative}/{member}" if member else relative)

    def _walk(self) -> list[Path]:
        found: list[Path] = []
        for directory, dirnames, filenames in os.walk(self.root, followlinks=False):
            dirnames.sort()
            for filename in sorted(filenames):
                path = Path(directory) / filename
                # Symlinks could point anywhere on the server and special files can block a read
                # forever: only regular files are served.
                try:
                    mode = path.lstat().st_mode
                except OSError as exc:
                    self.skipped.append((str(path), exc.strerror or str(exc)))
                    continue
                if not stat.S_ISREG(mode):
                    if is_image_name(filename) or filename.lower().endswith(
                        ZIP_SUFFIXES + TAR_SUFFIXES
                    ):
                        self.skipped.append((str(path), "not a regular file"))
                    continue
                found.append(path)
        return found

    def _zip_entries(self, path: Path) -> list[_Entry]:
        try:
            with zipfile.ZipFile(path) as archive:
                infos = archive.infolist()
        except (OSError, zipfile.BadZipFile, ValueError) as exc:
            self.skipped.append((str(path), f"unreadable zip: {exc}"))
            return []
        entries = []
        for info in infos:
            if info.is_dir() or not is_image_name(info.filename):
                continue
            where = f"{path}!{info.filename}"
            if not safe_member_name(info.filename):
                self.skipped.append((where, "unsafe path in archive"))
            elif stat.S_ISLNK(info.external_attr >> 16):
                self.skipped.append((where, "symlink in archive"))
            elif info.flag_bits & 0x1:
                self.skipped.append((where, "encrypted member"))
            elif info.file_size > self.max_bytes:
                self.skipped.append((where, f"declares {info.file_size} bytes"))
            else:
                entries.append(
                    _Entry(
                        f"zip://{path}!{info.filename}",
                        self._wnid(path, info.filename),
                        path,
                        info.filename,
                        size=info.file_size,
                    )
                )
        return entries

    def _tar_entries(self, path: Path) -> list[_Entry]:
        entries = []
        try:
            with tarfile.open(path, "r:*") as archive:
                for member in archive:
                    if member.isdir() or not is_image_name(member.name):
                        continue
                    where = f"{path}!{member.name}"
                    if not safe_member_name(member.name):
                        self.skipped.append((where, "unsafe path in archive"))
                    elif not member.isreg() or member.issparse():
                        # Symlinks, hard links, devices and FIFOs: never followed or opened.
                        self.skipped.append((where, "not a regular file in archive"))
                    elif member.size > self.max_bytes:
                        self.skipped.append((where, f"declares {member.size} bytes"))
                    else:
                        entries.append(
                            _Entry(
                                f"tar://{path}!{member.name}",
                                self._wnid(path, member.name),
                                path,
                                member.name,
                                offset=member.offset_data,
                                size=member.size,
                            )
                        )
        except (OSError, tarfile.TarError, EOFError, zlib.error, lzma.LZMAError) as exc:
            self.skipped.append((str(path), f"unreadable tar: {exc}"))
            return []
        return entries

    # -- reading -------------------------------------------------------------------------------

    def _handle(self, path: Path, opener: Callable[[Path], zipfile.ZipFile | BinaryIO]):
        with self._handles_lock:
            if path not in self._handles:
                self._handles[path] = (threading.Lock(), opener(path))
            return self._handles[path]

    def _read_zip_member(self, entry: _Entry) -> bytes:
        try:
            lock, archive = self._handle(entry.path, zipfile.ZipFile)
            with lock, archive.open(entry.member) as handle:
                return _read_capped(handle, self.max_bytes)
        except (
            OSError,
            zipfile.BadZipFile,
            KeyError,
            RuntimeError,  # encrypted
            NotImplementedError,  # unsupported compression method
            zlib.error,
            EOFError,
        ) as exc:
            raise SourceError(f"{entry.locator}: {exc}") from exc

    def _read_tar_member(self, entry: _Entry) -> bytes:
        try:
            lock, stream = self._handle(entry.path, _open_tar_stream)
            with lock:
                stream.seek(entry.offset)
                data = stream.read(min(entry.size, self.max_bytes + 1))
        except (OSError, EOFError, zlib.error, lzma.LZMAError) as exc:
            raise SourceError(f"{entry.locator}: {exc}") from exc
        if len(data) < min(entry.size, self.max_bytes + 1):
            raise SourceError(f"{entry.locator}: archive truncated")
        return data

    def _reader(self, entry: _Entry) -> Callable[[], bytes]:
        if entry.member is None:
            return partial(_read_file, entry.path, self.max_bytes)
        if entry.locator.startswith("zip://"):
            return partial(self._read_zip_member, entry)
        return partial(self._read_tar_member, entry)

    def close(self) -> None:
        """Close archives kept open for reading; later reads reopen them."""
        with self._handles_lock:
            handles, self._handles = self._handles, {}
        for _, handle in handles.values():
            handle.close()

    # -- the interface -------------------------------------------------------------------------

    def named(self) -> list[tuple[str, str | None]]:
        return [(entry.locator.split("://", 1)[1], entry.wnid) for entry in self.entries()]

    def refused(self) -> list[tuple[str, str]]:
        self.entries()
        return list(self.skipped)

    def search(self, query: str, page: int, *, wnid: str | None = None) -> list[SourceResult]:
        check_page(page)
        entries = self.entries()
        if wnid and any(entry.wnid for entry in entries):
            entries = [entry for entry in entries if entry.wnid == wnid]
        start = (page - 1) * self.page_size
        return [
            SourceResult(
                image_url=entry.locator,
                title=PurePosixPath(entry.member or entry.path.name).name,
                rank=start + index + 1,
                wnid=entry.wnid,
                fetch=self._reader(entry),
            )
            for index, entry in enumerate(entries[start : start + self.page_size])
        ]

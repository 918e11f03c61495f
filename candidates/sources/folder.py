"""Images from a local folder, searched recursively, including zip and tar archives (read in
place, never extracted). Files or folders named by wnid (``n02085620_x.JPEG``,
``n02085620/x.jpg``) are returned only for that synset; a folder without wnids serves every
synset (the query is ignored)."""

from __future__ import annotations

import os
import stat
import tarfile
import zipfile
from dataclasses import dataclass
from functools import partial
from pathlib import Path, PurePosixPath

from .base import ImageSource, SourceError, SourceResult, wnid_in_path

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".gif", ".webp", ".bmp", ".tif", ".tiff"}
ZIP_SUFFIXES = (".zip",)
TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz")


@dataclass(frozen=True)
class _Entry:
    locator: str
    wnid: str | None
    path: Path
    member: str | None = None


def _safe_member(name: str) -> bool:
    """Zip-slip guard: no absolute paths, drive letters or ``..`` components."""
    if not name or name.startswith(("/", "\\")) or ":" in name.split("/")[0]:
        return False
    return ".." not in PurePosixPath(name.replace("\\", "/")).parts


def _is_image_name(name: str) -> bool:
    return PurePosixPath(name.lower()).suffix in IMAGE_SUFFIXES


def _read_file(path: Path, cap: int) -> bytes:
    try:
        with path.open("rb") as handle:
            return handle.read(cap + 1)
    except OSError as exc:
        raise SourceError(f"{path}: {exc.strerror or exc}") from exc


def _read_zip(path: Path, member: str, cap: int) -> bytes:
    try:
        with zipfile.ZipFile(path) as archive, archive.open(member) as handle:
            return handle.read(cap + 1)  # a zip bomb stops at the cap
    except (OSError, zipfile.BadZipFile, KeyError) as exc:
        raise SourceError(f"{path}!{member}: {exc}") from exc


def _read_tar(path: Path, member: str, cap: int) -> bytes:
    try:
        with tarfile.open(path) as archive:
            info = archive.getmember(member)
            if not info.isreg():
                raise SourceError(f"{path}!{member}: not a regular file")
            handle = archive.extractfile(info)
            if handle is None:
                raise SourceError(f"{path}!{member}: unreadable")
            return handle.read(cap + 1)
    except (OSError, tarfile.TarError, KeyError) as exc:
        raise SourceError(f"{path}!{member}: {exc}") from exc


class LocalFolderSource(ImageSource):
    name = "folder"
    uses_queries = False
    page_size = 100

    def __init__(self, root: str | Path, *, max_bytes: int = 20 * 1024 * 1024) -> None:
        self.root = Path(root).resolve()
        if not self.root.exists():
            raise SourceError(f"{self.root} does not exist")
        self.max_bytes = max_bytes
        self.skipped: list[tuple[str, str]] = []
        self._entries: list[_Entry] | None = None

    def _scan(self) -> list[_Entry]:
        if self._entries is not None:
            return self._entries
        entries: list[_Entry] = []
        paths = [self.root] if self.root.is_file() else self._walk()
        for path in paths:
            relative = path.name if path == self.root else str(path.relative_to(self.root))
            lower = path.name.lower()
            if lower.endswith(ZIP_SUFFIXES):
                entries += self._zip_entries(path, relative)
            elif lower.endswith(TAR_SUFFIXES):
                entries += self._tar_entries(path, relative)
            elif _is_image_name(lower):
                entries.append(_Entry(f"folder:{relative}", wnid_in_path(relative), path))
        self._entries = entries
        return entries

    def _walk(self) -> list[Path]:
        found = []
        for directory, dirnames, filenames in os.walk(self.root, followlinks=False):
            dirnames.sort()
            for filename in sorted(filenames):
                path = Path(directory) / filename
                # Symlinks could point anywhere on the server: never followed.
                if path.is_symlink() or not path.is_file():
                    self.skipped.append((str(path), "not a regular file"))
                    continue
                found.append(path)
        return found

    def _zip_entries(self, path: Path, relative: str) -> list[_Entry]:
        try:
            with zipfile.ZipFile(path) as archive:
                infos = archive.infolist()
        except (OSError, zipfile.BadZipFile) as exc:
            self.skipped.append((relative, f"bad zip: {exc}"))
            return []
        entries = []
        for info in infos:
            mode = info.external_attr >> 16
            if info.is_dir() or not _is_image_name(info.filename):
                continue
            if not _safe_member(info.filename) or stat.S_ISLNK(mode):
                self.skipped.append((f"{relative}!{info.filename}", "unsafe path in archive"))
                continue
            name = f"{relative}!{info.filename}"
            entries.append(_Entry(f"folder:{name}", wnid_in_path(name), path, info.filename))
        return entries

    def _tar_entries(self, path: Path, relative: str) -> list[_Entry]:
        try:
            with tarfile.open(path) as archive:
                members = archive.getmembers()
        except (OSError, tarfile.TarError) as exc:
            self.skipped.append((relative, f"bad tar: {exc}"))
            return []
        entries = []
        for member in members:
            if not _is_image_name(member.name):
                continue
            if not member.isreg() or not _safe_member(member.name):
                self.skipped.append((f"{relative}!{member.name}", "unsafe member in archive"))
                continue
            name = f"{relative}!{member.name}"
            entries.append(_Entry(f"folder:{name}", wnid_in_path(name), path, member.name))
        return entries

    def _reader(self, entry: _Entry):
        if entry.member is None:
            return partial(_read_file, entry.path, self.max_bytes)
        if entry.path.name.lower().endswith(ZIP_SUFFIXES):
            return partial(_read_zip, entry.path, entry.member, self.max_bytes)
        return partial(_read_tar, entry.path, entry.member, self.max_bytes)

    def search(self, query: str, page: int, *, wnid: str | None = None) -> list[SourceResult]:
        entries = self._scan()
        if wnid and any(e.wnid for e in entries):
            entries = [e for e in entries if e.wnid == wnid]
        start = (page - 1) * self.page_size
        return [
            SourceResult(
                image_url=entry.locator,
                title=PurePosixPath(entry.locator.split("!")[-1]).name,
                rank=start + index + 1,
                wnid=entry.wnid,
                fetch=self._reader(entry),
            )
            for index, entry in enumerate(entries[start : start + self.page_size])
        ]

"""Images listed in a file: CSV (header optional; columns url[,wnid][,page_url,title,license,
attribution]) or TXT (one URL per line, optionally with a wnid or an ImageNet image id such as
``n02085620_1234`` before or after it, as in ImageNet's published URL lists).

Broken lines are collected as ``(line number, reason)`` and never abort parsing; the query is
ignored and a wnid, when the list names wnids, selects that synset's rows.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from .base import (
    WNID,
    ImageSource,
    SourceError,
    SourceResult,
    check_page,
    link_or_blank,
    url_problem,
)
from .folder import allowed_path

MAX_LINE_LENGTH = 8192
MAX_FIELD_LENGTH = 500
MAX_LIST_BYTES = 512 * 1024 * 1024
COLUMNS = ("url", "wnid", "page_url", "title", "license", "attribution")
# Header spellings seen in exported lists, mapped to our column names.
COLUMN_ALIASES = {
    "image_url": "url",
    "img_url": "url",
    "link": "url",
    "synset": "wnid",
    "landing_url": "page_url",
    "source_url": "page_url",
    "author": "attribution",
    "creator": "attribution",
}
IMAGE_ID_PREFIX = 10  # "n02085620_1234" → the wnid is the first 9 characters + "_"

ListFormat = Literal["auto", "csv", "txt"]


@dataclass(frozen=True)
class UrlRow:
    line: int
    url: str
    wnid: str | None = None
    page_url: str = ""
    title: str = ""
    license: str = ""
    attribution: str = ""


def _wnid_of_token(token: str) -> str | None:
    if WNID.fullmatch(token):
        return token
    if len(token) > IMAGE_ID_PREFIX and token[9] == "_" and WNID.fullmatch(token[:9]):
        return token[:9]  # an ImageNet image id, "<wnid>_<number>"
    return None


def _looks_like_url(token: str) -> bool:
    return "://" in token or token.lower().startswith(("http:", "https:"))


def _detect_format(lines: Sequence[str]) -> Literal["csv", "txt"]:
    for line in lines:
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            # A TXT line separates by whitespace; a comma in a single token means CSV.
            return "csv" if "," in stripped and len(stripped.split()) == 1 else "txt"
    return "txt"


def _header(fields: list[str]) -> list[str] | None:
    names = [COLUMN_ALIASES.get(f.strip().lower(), f.strip().lower()) for f in fields]
    if "url" in names and not any(_looks_like_url(f) for f in fields):
        return names
    return None


def parse_url_list(
    text: str, *, fmt: ListFormat = "auto"
) -> tuple[list[UrlRow], list[tuple[int, str]]]:
    """Rows and errors ``(line number, reason)`` of a CSV or TXT URL list. Line numbers are the
    file's physical lines, counted from 1, so an admin can find the broken line."""
    lines = text.removeprefix("\ufeff").splitlines()
    kind = _detect_format(lines) if fmt == "auto" else fmt
    rows: list[UrlRow] = []
    errors: list[tuple[int, str]] = []
    header: list[str] | None = None
    seen_content = False
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if len(line) > MAX_LINE_LENGTH:
            errors.append((number, f"line longer than {MAX_LINE_LENGTH} characters"))
            continue
        if kind == "csv":
            try:
                fields = [field.strip() for field in next(csv.reader([line]))]
            except csv.Error as exc:
                errors.append((number, f"bad CSV: {exc}"))
                continue
            if not seen_content:
                seen_content = True
                header = _header(fields)
                if header is not None:
                    continue
            names = header or list(COLUMNS)
            if len(fields) > len(names) and any(fields[len(names) :]):
                errors.append((number, f"{len(fields)} columns, expected at most {len(names)}"))
                continue
            values = dict(zip(names, fields, strict=False))
        else:
            tokens = stripped.split()
            if len(tokens) > 2:
                errors.append((number, "expected 'url', 'wnid url' or 'url wnid'"))
                continue
            urls = [token for token in tokens if _looks_like_url(token)]
            url = urls[0] if len(urls) == 1 else tokens[-1] if len(tokens) == 2 else tokens[0]
            others = [token for token in tokens if token is not url]
            wnid = _wnid_of_token(others[0]) if others else ""
            if others and wnid is None:
                errors.append((number, f"{others[0][:40]!r} is neither a wnid nor an image id"))
                continue
            values = {"url": url, "wnid": wnid or ""}
        url = values.get("url", "")
        problem = url_problem(url) if url else "no URL"
        wnid = values.get("wnid") or None
        if wnid is not None and problem is None:
            wnid = _wnid_of_token(wnid)
            if wnid is None:
                problem = f"bad wnid {values['wnid'][:40]!r}"
        if problem:
            errors.append((number, problem))
            continue
        text = {column: values.get(column, "")[:MAX_FIELD_LENGTH] for column in COLUMNS[2:]}
        text["page_url"] = link_or_blank(values.get("page_url", ""))
        rows.append(UrlRow(number, url, wnid, **text))
    return rows, errors


class UrlListSource(ImageSource):
    """The URLs of a CSV or TXT file (format from the suffix, else detected). ``errors`` holds
    the broken lines; duplicate rows (same URL and wnid) are served once."""

    name = "urls"
    uses_queries = False

    def __init__(
        self,
        path: str | Path,
        *,
        fmt: ListFormat = "auto",
        allowed_roots: Sequence[str | Path] | None = None,
        page_size: int = 100,
    ) -> None:
        self.path = allowed_path(path, allowed_roots)
        self.page_size = page_size
        try:
            with self.path.open("rb") as handle:
                raw = handle.read(MAX_LIST_BYTES + 1)
        except OSError as exc:
            raise SourceError(f"{self.path}: {exc.strerror or exc}") from exc
        if len(raw) > MAX_LIST_BYTES:
            raise SourceError(f"{self.path}: larger than {MAX_LIST_BYTES} bytes")
        if fmt == "auto":
            suffix = self.path.suffix.lower()
            fmt = "csv" if suffix == ".csv" else "txt" if suffix == ".txt" else "auto"
        rows, self.errors = parse_url_list(raw.decode("utf-8", errors="replace"), fmt=fmt)
        unique: dict[tuple[str, str | None], UrlRow] = {}
        # Repeated rows are served once, and said so: every line of the list is accounted for.
        self.duplicate_lines: list[tuple[str, str]] = []
        for row in rows:
            first = unique.setdefault((row.url, row.wnid), row)
            if first is not row:
                self.duplicate_lines.append((f"line {row.line}", f"same as line {first.line}"))
        self.rows = list(unique.values())
        # Each page is a slice of its synset's rows, grouped once here: a page no longer scans
        # the whole list, which made a job over a long list quadratic in its length.
        self._named_any = any(row.wnid for row in self.rows)
        self._by_wnid: dict[str | None, list[UrlRow]] = {}
        for row in self.rows:
            self._by_wnid.setdefault(row.wnid, []).append(row)

    def named(self) -> list[tuple[str, str | None]]:
        return [(f"line {row.line}: {row.url}", row.wnid) for row in self.rows]

    def refused(self) -> list[tuple[str, str]]:
        return [(f"line {line}", why) for line, why in self.errors]

    def search(self, query: str, page: int, *, wnid: str | None = None) -> list[SourceResult]:
        check_page(page)
        rows = self._by_wnid.get(wnid, []) if wnid and self._named_any else self.rows
        start = (page - 1) * self.page_size
        return [
            SourceResult(
                image_url=row.url,
                page_url=row.page_url,
                title=row.title,
                license=row.license,
                attribution=row.attribution,
                rank=row.line,
                wnid=row.wnid,
            )
            for row in rows[start : start + self.page_size]
        ]

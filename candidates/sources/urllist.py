"""Images listed in a file: CSV (header optional: url[,wnid][,page_url,title,license,
attribution]) or TXT (one URL per line, optionally with a wnid before or after it). Broken lines
are collected with their line number and never abort parsing."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from .base import WNID_IN_PATH, ImageSource, SourceError, SourceResult

MAX_URL_LENGTH = 2048
COLUMNS = ("url", "wnid", "page_url", "title", "license", "attribution")


@dataclass(frozen=True)
class UrlRow:
    line: int
    url: str
    wnid: str | None = None
    page_url: str = ""
    title: str = ""
    license: str = ""
    attribution: str = ""


def _url_problem(url: str) -> str | None:
    if len(url) > MAX_URL_LENGTH:
        return "URL too long"
    try:
        parts = urlsplit(url)
    except ValueError:
        return "malformed URL"
    if parts.scheme not in {"http", "https"}:
        return "not an http(s) URL"
    if not parts.hostname:
        return "URL without a host"
    return None


def parse_url_list(text: str) -> tuple[list[UrlRow], list[tuple[int, str]]]:
    """Rows and errors ((line number, reason)) of a CSV or TXT URL list."""
    text = text.lstrip("\ufeff")
    lines = text.splitlines()
    first = next((line for line in lines if line.strip() and not line.startswith("#")), "")
    is_csv = "," in first
    rows: list[UrlRow] = []
    errors: list[tuple[int, str]] = []
    header: list[str] | None = None
    reader = csv.reader(io.StringIO(text)) if is_csv else ([line] for line in lines)
    for number, fields in enumerate(reader, start=1):
        fields = [field.strip() for field in fields]
        if not any(fields) or fields[0].startswith("#"):
            continue
        if is_csv and header is None and "url" in [f.lower() for f in fields]:
            header = [f.lower() for f in fields]
            continue
        if is_csv:
            names = header or list(COLUMNS)
            values = dict(zip(names, fields, strict=False))
        else:
            tokens = fields[0].split()
            url = next((t for t in tokens if "://" in t), tokens[0])
            wnid = next((t for t in tokens if WNID_IN_PATH.fullmatch(t)), None)
            if len(tokens) > 2 or (len(tokens) == 2 and wnid is None):
                errors.append((number, "expected 'url' or 'wnid url'"))
                continue
            values = {"url": url, "wnid": wnid or ""}
        url = values.get("url", "")
        problem = _url_problem(url) if url else "no URL"
        wnid = values.get("wnid") or None
        if wnid and not WNID_IN_PATH.fullmatch(wnid):
            problem = problem or f"bad wnid {wnid!r}"
        if problem:
            errors.append((number, problem))
            continue
        rows.append(UrlRow(number, url, wnid, *(values.get(k, "")[:500] for k in COLUMNS[2:])))
    return rows, errors


class UrlListSource(ImageSource):
    name = "urls"
    uses_queries = False
    page_size = 100

    def __init__(self, path: str | Path) -> None:
        try:
            raw = Path(path).read_bytes()
        except OSError as exc:
            raise SourceError(f"{path}: {exc.strerror or exc}") from exc
        text = raw.decode("utf-8", errors="replace")
        self.rows, self.errors = parse_url_list(text)

    def search(self, query: str, page: int, *, wnid: str | None = None) -> list[SourceResult]:
        rows = self.rows
        if wnid and any(row.wnid for row in rows):
            rows = [row for row in rows if row.wnid == wnid]
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
            )  # fmt: skip
            for row in rows[start : start + self.page_size]
        ]

"""The one small interface every image source implements, what a search returns, and the JSON
GET that the web sources share.

``search(query, page, wnid=...)`` returns one page of results (pages start at 1; an empty list
means no more). Web sources return image URLs that the pipeline downloads with its SSRF-safe
fetcher; folder, archive and S3 sources return a ``fetch`` callable that reads the bytes directly.
"""

from __future__ import annotations

import json
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests

from candidates.fetching import FetchError, FetchPolicy, check_url

USER_AGENT = "SynsetLab/0.1 (ImageNet-style dataset collection; python-requests)"
DEFAULT_TIMEOUT = (5.0, 20.0)  # (connect, read) seconds
MAX_URL_LENGTH = 2048
MAX_API_RESPONSE_BYTES = 8 * 1024 * 1024  # a search page is a few hundred kB at most
WNID_IN_PATH = re.compile(r"(?<![0-9a-z])(n\d{8})(?![0-9])")
_WNID_FOLDER = re.compile(r"^(n\d{8})(?:\.(?:tar|tgz|zip|tar\.gz|tar\.bz2|tar\.xz))?$")
WNID = re.compile(r"n\d{8}")


class SourceError(Exception):
    """A source could not answer (HTTP error, bad JSON, unreadable file); the message says why."""


class ConfigurationError(SourceError):
    """A source is missing settings it needs (an API key, a bucket) or they are refused."""


@dataclass(frozen=True)
class SourceResult:
    """One image a source offers, with the provenance every candidate keeps (source, query,
    rank, page URL, license and attribution where the source gives them).

    ``image_url`` is an http(s) URL for web sources, or a locator (``file:///…``,
    ``zip:///archive.zip!member``, ``tar:///archive.tar.gz!member``, ``s3://bucket/key``) that is
    unique per image and stable across runs. ``fetch`` is None when the pipeline must download
    ``image_url`` itself; otherwise it returns the image bytes — at most the source's ``max_bytes``
    + 1, so a result longer than ``max_bytes`` is too large and must be rejected by the caller.
    ``fetch`` raises SourceError when the bytes cannot be read.
    """

    image_url: str
    page_url: str = ""
    title: str = ""
    license: str = ""
    attribution: str = ""
    rank: int | None = None  # 1-based position in the source's own ordering
    wnid: str | None = None  # the synset the source itself names (folder layout, list column)
    fetch: Callable[[], bytes] | None = None


class ImageSource(ABC):
    """A place candidate images come from."""

    name: str = ""
    # Search sources run each of the synset's queries; list-like sources (folder, URL list, S3)
    # have no search engine, ignore the query and select by wnid instead.
    uses_queries: bool = True
    page_size: int = 50

    @abstractmethod
    def search(self, query: str, page: int, *, wnid: str | None = None) -> list[SourceResult]:
        """One page of results for ``query`` (1-based pages); [] when there are no more."""

    def named(self) -> list[tuple[str, str | None]] | None:
        """List-like sources: every image they hold as ``(name, wnid it names or None)``, so a
        job can count what matches none of its synsets; None for search engines."""
        return None

    def refused(self) -> list[tuple[str, str]]:
        """What the source refused before any download, as ``(where, why)``."""
        return []


def check_page(page: int) -> None:
    if page < 1:
        raise ValueError(f"pages start at 1, got {page}")


def wnid_in_path(path: str) -> str | None:
    """The class a path names in ImageNet's layouts: the deepest ``<wnid>/`` folder (or
    ``<wnid>.tar`` archive), else a ``<wnid>_name`` file.

    A folder wins over the file name: a user who files ``n02085620_Chihuahua.JPEG`` under
    ``n02084071/`` (dog) is saying what the image is a candidate for; in ImageNet's own
    ``train/<wnid>/<wnid>_<n>.JPEG`` layout the two agree anyway.
    """
    parts = [part for part in re.split(r"[/\\!]", path) if part]
    for part in reversed(parts[:-1]):
        match = _WNID_FOLDER.match(part)
        if match:
            return match.group(1)
    found = WNID_IN_PATH.findall(parts[-1]) if parts else []
    return found[0] if found else None


def url_problem(url: str) -> str | None:
    """Why ``url`` cannot be a candidate's URL, or None. Only the syntax is checked here; the
    fetcher decides later whether its host may be contacted."""
    if len(url) > MAX_URL_LENGTH:
        return f"URL longer than {MAX_URL_LENGTH} characters"
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in url):
        return "URL contains whitespace or control characters"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError as exc:
        return f"malformed URL ({exc})"
    if parts.scheme.lower() not in {"http", "https"}:
        return f"not an http(s) URL (scheme {parts.scheme or 'missing'!r})"
    if not parts.hostname:
        return "URL without a host"
    return None


def link_or_blank(url: str | None) -> str:
    """A page URL safe to show as a link, or "": pages render it in ``href``, where a
    ``javascript:`` URL from a list or an API would be stored XSS."""
    url = (url or "").strip()
    return url if url and url_problem(url) is None else ""


def endpoint_check(url: str, *, allow_loopback: bool) -> None:
    """Refuse API endpoints on private, link-local or loopback addresses: endpoints come from
    settings and job configuration, and CVAT's SSRF through custom storage endpoints came from
    trusting exactly that (docs/architecture.md §6)."""
    try:
        check_url(url, FetchPolicy(allow_loopback=allow_loopback))
    except FetchError as exc:
        raise ConfigurationError(f"endpoint {url!r} refused: {exc}") from exc


def get_json(
    url: str,
    params: Mapping[str, Any],
    *,
    allow_loopback: bool,
    headers: Mapping[str, str] | None = None,
    timeout: tuple[float, float] = DEFAULT_TIMEOUT,
    session: requests.Session | None = None,
) -> Any:
    """GET a JSON API; every failure (network, HTTP status, oversized or non-JSON body) becomes a
    SourceError with a message an admin can act on."""
    endpoint_check(url, allow_loopback=allow_loopback)
    http = session or requests
    try:
        # Redirects are not followed: the endpoint was checked, a redirect target was not.
        response = http.get(
            url,
            params=params,
            timeout=timeout,
            headers={"User-Agent": USER_AGENT, "Accept": "application/json", **(headers or {})},
            allow_redirects=False,
            stream=True,
        )
        with response:
            if response.status_code != 200:
                raise SourceError(f"{url}: HTTP {response.status_code} {response.reason or ''}")
            chunks, size = [], 0
            for chunk in response.iter_content(64 * 1024):
                chunks.append(chunk)
                size += len(chunk)
                if size > MAX_API_RESPONSE_BYTES:
                    break
            body = b"".join(chunks)
    except requests.RequestException as exc:
        raise SourceError(f"{url}: {type(exc).__name__}: {exc}") from exc
    if len(body) > MAX_API_RESPONSE_BYTES:
        raise SourceError(f"{url}: response larger than {MAX_API_RESPONSE_BYTES} bytes")
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise SourceError(f"{url}: response is not JSON ({exc})") from exc


def json_object(data: Any, url: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise SourceError(f"{url}: expected a JSON object, got {type(data).__name__}")
    return data

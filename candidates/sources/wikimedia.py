"""Wikimedia Commons (keyless) through the MediaWiki API: a full-text search over the File
namespace (generator=search) with each file's URL, license and author (imageinfo extmetadata),
continued with ``gsroffset``."""

from __future__ import annotations

import html
import re
from typing import Any

import requests

from .base import (
    DEFAULT_TIMEOUT,
    ImageSource,
    SourceError,
    SourceResult,
    check_page,
    get_json,
    json_object,
    link_or_blank,
    url_problem,
)

DEFAULT_API_URL = "https://commons.wikimedia.org/w/api.php"
FILE_NAMESPACE = 6
_TAGS = re.compile(r"<[^>]+>")


def plain_text(value: object) -> str:
    """extmetadata values are HTML (Artist is usually a link to a user page); we keep the text
    only, since our pages escape whatever they show."""
    text = html.unescape(_TAGS.sub(" ", str(value or "")))
    return " ".join(text.split())[:500]


def _meta(info: dict[str, Any], key: str) -> str:
    entry = (info.get("extmetadata") or {}).get(key) or {}
    return plain_text(entry.get("value") if isinstance(entry, dict) else "")


class WikimediaCommonsSource(ImageSource):
    name = "wikimedia"

    def __init__(
        self,
        api_url: str = DEFAULT_API_URL,
        *,
        allow_loopback: bool = False,
        page_size: int = 50,
        thumb_width: int | None = 1024,
        user_agent: str | None = None,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
    ) -> None:
        self.api_url = api_url
        self.allow_loopback = allow_loopback
        self.page_size = page_size
        # Originals on Commons run to tens of megabytes; a scaled rendition is plenty for an
        # ImageNet-sized image (~400 × 350 on average, Deng et al. 2009 §2).
        self.thumb_width = thumb_width
        self.timeout = timeout
        # Wikimedia's User-Agent policy asks for contact details (a URL or an email address).
        self.headers = {"User-Agent": user_agent} if user_agent else {}
        self.session = requests.Session()
        # Per query: the gsroffset the API announced for each next page, or None at the end.
        self._offsets: dict[str, dict[int, int | None]] = {}

    def _params(self, query: str, offset: int) -> dict[str, Any]:
        params: dict[str, Any] = {
            "action": "query",
            "format": "json",
            "generator": "search",
            # filetype:bitmap keeps photos and drawings, drops PDFs, SVGs, audio and video.
            "gsrsearch": f"filetype:bitmap {query}",
            "gsrnamespace": FILE_NAMESPACE,
            "gsrlimit": self.page_size,
            "gsroffset": offset,
            "prop": "imageinfo",
            "iiprop": "url|extmetadata",
            "iiextmetadatafilter": "LicenseShortName|Artist",
        }
        if self.thumb_width:
            params["iiurlwidth"] = self.thumb_width
        return params

    def search(self, query: str, page: int, *, wnid: str | None = None) -> list[SourceResult]:
        check_page(page)
        known = self._offsets.setdefault(query, {1: 0})
        if page in known:
            offset = known[page]
            if offset is None:
                return []
        else:
            offset = (page - 1) * self.page_size
        data = json_object(
            get_json(
                self.api_url,
                self._params(query, offset),
                allow_loopback=self.allow_loopback,
                headers=self.headers,
                timeout=self.timeout,
                session=self.session,
            ),
            self.api_url,
        )
        if "error" in data:
            # MediaWiki reports errors with HTTP 200 and an "error" object.
            error = data["error"] if isinstance(data["error"], dict) else {}
            raise SourceError(
                f"{self.api_url}: {error.get('code', 'error')}: {error.get('info', '')}"
            )
        next_offset = (data.get("continue") or {}).get("gsroffset")
        known[page + 1] = next_offset if isinstance(next_offset, int) else None
        pages = (data.get("query") or {}).get("pages") or {}
        entries = pages.values() if isinstance(pages, dict) else pages  # formatversion 1 or 2
        results = []
        for position, entry in enumerate(sorted(entries, key=lambda e: e.get("index", 0)), 1):
            info = (entry.get("imageinfo") or [{}])[0]
            image_url = info.get("thumburl") or info.get("url") or ""
            if url_problem(image_url):
                continue
            results.append(
                SourceResult(
                    image_url=image_url,
                    page_url=link_or_blank(info.get("descriptionurl")),
                    title=str(entry.get("title", "")).removeprefix("File:")[:500],
                    license=_meta(info, "LicenseShortName"),
                    attribution=_meta(info, "Artist"),
                    rank=offset + position,
                )
            )
        return results

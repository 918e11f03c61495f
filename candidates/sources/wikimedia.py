"""Wikimedia Commons (keyless): the MediaWiki API's file search with image info, licence and
author from extmetadata."""

from __future__ import annotations

import html
import re

from .base import ImageSource, SourceResult, get_json

_TAGS = re.compile(r"<[^>]+>")


def _meta(info: dict, key: str) -> str:
    value = (info.get("extmetadata") or {}).get(key, {}).get("value", "")
    # Artist is HTML on Commons; keep plain text only (it is shown in our pages, escaped).
    return html.unescape(_TAGS.sub("", str(value))).strip()[:500]


class WikimediaCommonsSource(ImageSource):
    name = "wikimedia"
    page_size = 50

    def __init__(self, api_url: str = "https://commons.wikimedia.org/w/api.php", *,
                 allow_loopback: bool = False) -> None:  # fmt: skip
        self.api_url = api_url
        self.allow_loopback = allow_loopback

    def search(self, query: str, page: int, *, wnid: str | None = None) -> list[SourceResult]:
        data = get_json(
            self.api_url,
            {
                "action": "query", "format": "json", "generator": "search",
                "gsrsearch": f"filetype:bitmap {query}", "gsrnamespace": 6,
                "gsrlimit": self.page_size, "gsroffset": (page - 1) * self.page_size,
                "prop": "imageinfo", "iiprop": "url|extmetadata",
            },
            allow_loopback=self.allow_loopback,
        )  # fmt: skip
        pages = ((data.get("query") or {}).get("pages") or {}).values()
        results = []
        for entry in sorted(pages, key=lambda p: p.get("index", 0)):
            info = (entry.get("imageinfo") or [{}])[0]
            if not info.get("url"):
                continue
            results.append(
                SourceResult(
                    image_url=info["url"],
                    page_url=info.get("descriptionurl", ""),
                    title=str(entry.get("title", "")).removeprefix("File:"),
                    license=_meta(info, "LicenseShortName"),
                    attribution=_meta(info, "Artist"),
                    rank=(page - 1) * self.page_size + int(entry.get("index", 0) or 0),
                )
            )
        return results

"""Openverse (keyless): ``GET {base}/v1/images/?q=…&page=…&page_size=…`` over openly licensed
images, each with its license and a ready-made attribution line."""

from __future__ import annotations

import requests

from .base import (
    DEFAULT_TIMEOUT,
    ImageSource,
    SourceResult,
    check_page,
    get_json,
    json_object,
    link_or_blank,
    url_problem,
)

DEFAULT_BASE_URL = "https://api.openverse.org"
# Anonymous clients may ask for at most 20 results per page (larger pages answer 401); an OAuth
# token raises the limit.
ANONYMOUS_PAGE_SIZE = 20
# Openverse's license codes, written as people cite them.
LICENSE_NAMES = {
    "by": "CC BY",
    "by-sa": "CC BY-SA",
    "by-nd": "CC BY-ND",
    "by-nc": "CC BY-NC",
    "by-nc-sa": "CC BY-NC-SA",
    "by-nc-nd": "CC BY-NC-ND",
    "cc0": "CC0",
    "pdm": "Public Domain Mark",
    "sampling+": "CC Sampling+",
    "nc-sampling+": "CC NC-Sampling+",
}


def license_name(code: object, version: object) -> str:
    code = str(code or "").strip().lower()
    if not code:
        return ""
    name = LICENSE_NAMES.get(code, code.upper())
    version = str(version or "").strip()
    return f"{name} {version}" if version else name


class OpenverseSource(ImageSource):
    name = "openverse"

    def __init__(
        self,
        base_url: str = DEFAULT_BASE_URL,
        *,
        allow_loopback: bool = False,
        token: str | None = None,
        page_size: int = ANONYMOUS_PAGE_SIZE,
        user_agent: str | None = None,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.allow_loopback = allow_loopback
        self.headers = {"User-Agent": user_agent} if user_agent else {}
        if token:
            self.headers["Authorization"] = f"Bearer {token}"
        self.page_size = page_size if token else min(page_size, ANONYMOUS_PAGE_SIZE)
        self.timeout = timeout
        self.session = requests.Session()
        # Openverse refuses pages past its result window (HTTP 400) instead of answering with
        # an empty page, so the last page it announced is remembered per query.
        self._page_counts: dict[str, int] = {}

    def search(self, query: str, page: int, *, wnid: str | None = None) -> list[SourceResult]:
        check_page(page)
        if page > self._page_counts.get(query, page):
            return []
        url = f"{self.base_url}/v1/images/"
        data = json_object(
            get_json(
                url,
                {"q": query, "page": page, "page_size": self.page_size},
                allow_loopback=self.allow_loopback,
                headers=self.headers,
                timeout=self.timeout,
                session=self.session,
            ),
            url,
        )
        if isinstance(data.get("page_count"), int):
            self._page_counts[query] = data["page_count"]
        results = []
        start = (page - 1) * self.page_size
        for index, item in enumerate(data.get("results") or [], start=1):
            if not isinstance(item, dict) or url_problem(str(item.get("url") or "")):
                continue
            results.append(
                SourceResult(
                    image_url=item["url"],
                    page_url=link_or_blank(item.get("foreign_landing_url")),
                    title=str(item.get("title") or "")[:500],
                    license=license_name(item.get("license"), item.get("license_version")),
                    attribution=str(item.get("attribution") or item.get("creator") or "")[:500],
                    rank=start + index,
                )
            )
        return results

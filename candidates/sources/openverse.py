"""Openverse (keyless): GET {base}/v1/images/?q=…&page=…&page_size=…; openly licensed images
with their license and attribution."""

from __future__ import annotations

from .base import ImageSource, SourceResult, get_json


class OpenverseSource(ImageSource):
    name = "openverse"
    page_size = 50

    def __init__(self, base_url: str = "https://api.openverse.org", *,
                 allow_loopback: bool = False) -> None:  # fmt: skip
        self.base_url = base_url.rstrip("/")
        self.allow_loopback = allow_loopback

    def search(self, query: str, page: int, *, wnid: str | None = None) -> list[SourceResult]:
        data = get_json(
            f"{self.base_url}/v1/images/",
            {"q": query, "page": page, "page_size": self.page_size},
            allow_loopback=self.allow_loopback,
        )
        results = []
        for index, item in enumerate(data.get("results") or [], start=1):
            if not isinstance(item, dict) or not item.get("url"):
                continue
            license_name = " ".join(
                part for part in (str(item.get("license") or "").upper(),
                                  str(item.get("license_version") or "")) if part
            )  # fmt: skip
            results.append(
                SourceResult(
                    image_url=item["url"],
                    page_url=item.get("foreign_landing_url") or "",
                    title=item.get("title") or "",
                    license=license_name,
                    attribution=item.get("attribution") or item.get("creator") or "",
                    rank=(page - 1) * self.page_size + index,
                )
            )
        return results

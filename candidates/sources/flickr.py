"""Flickr (needs an API key): ``flickr.photos.search`` over REST/JSON, restricted by default to
photos whose license allows reuse."""

from __future__ import annotations

from urllib.parse import quote

import requests

from .base import (
    DEFAULT_TIMEOUT,
    ConfigurationError,
    ImageSource,
    SourceError,
    SourceResult,
    check_page,
    get_json,
    json_object,
    url_problem,
)

DEFAULT_API_URL = "https://api.flickr.com/services/rest/"
# flickr.photos.licenses.getInfo; an id missing here is still recorded, by number.
LICENSES = {
    "0": "All Rights Reserved",
    "1": "CC BY-NC-SA 2.0",
    "2": "CC BY-NC 2.0",
    "3": "CC BY-NC-ND 2.0",
    "4": "CC BY 2.0",
    "5": "CC BY-SA 2.0",
    "6": "CC BY-ND 2.0",
    "7": "No known copyright restrictions",
    "8": "United States Government Work",
    "9": "CC0 1.0",
    "10": "Public Domain Mark 1.0",
}
OPEN_LICENSES = "1,2,3,4,5,6,7,8,9,10"
# Sizes by preference: large (1024 px) is plenty for ImageNet-sized images; originals are big
# and often not public.
SIZE_EXTRAS = ("url_l", "url_c", "url_o")
# Flickr serves at most 4,000 results per search; later pages repeat earlier photos.
MAX_RESULTS = 4000
INVALID_KEY_CODES = {100}


def license_name(license_id: object) -> str:
    key = str(license_id if license_id is not None else "").strip()
    return LICENSES.get(key, f"Flickr license {key}" if key else "")


class FlickrSource(ImageSource):
    name = "flickr"

    def __init__(
        self,
        api_key: str,
        *,
        api_url: str = DEFAULT_API_URL,
        allow_loopback: bool = False,
        licenses: str = OPEN_LICENSES,
        page_size: int = 100,
        user_agent: str | None = None,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
    ) -> None:
        if not api_key:
            raise ConfigurationError("the Flickr source needs an API key: set FLICKR_API_KEY")
        self.api_key, self.api_url = api_key, api_url
        self.allow_loopback = allow_loopback
        self.licenses = licenses
        self.page_size = min(page_size, 500)  # per_page's documented maximum
        self.timeout = timeout
        self.headers = {"User-Agent": user_agent} if user_agent else {}
        self.session = requests.Session()

    def search(self, query: str, page: int, *, wnid: str | None = None) -> list[SourceResult]:
        check_page(page)
        if (page - 1) * self.page_size >= MAX_RESULTS:
            return []
        data = json_object(
            get_json(
                self.api_url,
                {
                    "method": "flickr.photos.search",
                    "api_key": self.api_key,
                    "text": query,
                    "page": page,
                    "per_page": self.page_size,
                    "license": self.licenses,
                    "content_type": 1,  # photos only, no screenshots
                    "media": "photos",
                    "sort": "relevance",
                    "extras": ",".join((*SIZE_EXTRAS, "owner_name", "license")),
                    "format": "json",
                    "nojsoncallback": 1,
                },
                allow_loopback=self.allow_loopback,
                headers=self.headers,
                timeout=self.timeout,
                session=self.session,
            ),
            self.api_url,
        )
        if data.get("stat") != "ok":
            message = f"Flickr error {data.get('code', '?')}: {data.get('message', 'failed')}"
            if data.get("code") in INVALID_KEY_CODES:
                raise ConfigurationError(message)
            raise SourceError(message)
        photos = data.get("photos") or {}
        try:
            pages = int(photos.get("pages") or 0)
        except (TypeError, ValueError):
            pages = 0
        # Past the last page Flickr answers with the last page again, not an empty one.
        if page > pages:
            return []
        results = []
        start = (page - 1) * self.page_size
        for index, photo in enumerate(photos.get("photo") or [], start=1):
            if not isinstance(photo, dict):
                continue
            image_url = next((photo[size] for size in SIZE_EXTRAS if photo.get(size)), "")
            if url_problem(str(image_url)):
                continue
            owner, photo_id = photo.get("owner"), photo.get("id")
            page_url = ""
            if owner and photo_id:
                owner_part = quote(str(owner), safe="@")  # NSIDs look like "12345678@N01"
                page_url = f"https://www.flickr.com/photos/{owner_part}/{quote(str(photo_id))}"
            results.append(
                SourceResult(
                    image_url=image_url,
                    page_url=page_url,
                    title=str(photo.get("title") or "")[:500],
                    license=license_name(photo.get("license")),
                    attribution=str(photo.get("ownername") or "")[:500],
                    rank=start + index,
                )
            )
        return results

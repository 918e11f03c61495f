"""Flickr (API key from settings): flickr.photos.search restricted to openly licensed photos."""

from __future__ import annotations

from .base import ConfigurationError, ImageSource, SourceError, SourceResult, get_json

# flickr.photos.licenses.getInfo
LICENSES = {
    "0": "All Rights Reserved", "1": "CC BY-NC-SA 2.0", "2": "CC BY-NC 2.0",
    "3": "CC BY-NC-ND 2.0", "4": "CC BY 2.0", "5": "CC BY-SA 2.0", "6": "CC BY-ND 2.0",
    "7": "No known copyright restrictions", "8": "United States Government Work",
    "9": "CC0 1.0", "10": "Public Domain Mark 1.0",
}  # fmt: skip
OPEN_LICENSES = "1,2,3,4,5,6,7,8,9,10"


class FlickrSource(ImageSource):
    name = "flickr"
    page_size = 100

    def __init__(self, api_key: str, *, api_url: str = "https://api.flickr.com/services/rest/",
                 allow_loopback: bool = False) -> None:  # fmt: skip
        if not api_key:
            raise ConfigurationError("Flickr needs an API key: set FLICKR_API_KEY")
        self.api_key, self.api_url, self.allow_loopback = api_key, api_url, allow_loopback

    def search(self, query: str, page: int, *, wnid: str | None = None) -> list[SourceResult]:
        data = get_json(
            self.api_url,
            {
                "method": "flickr.photos.search", "api_key": self.api_key, "text": query,
                "page": page, "per_page": self.page_size, "license": OPEN_LICENSES,
                "content_type": 1, "media": "photos", "sort": "relevance",
                "extras": "url_l,url_c,url_o,owner_name,license",
                "format": "json", "nojsoncallback": 1,
            },
            allow_loopback=self.allow_loopback,
        )  # fmt: skip
        if data.get("stat") != "ok":
            raise SourceError(f"Flickr: {data.get('message', 'request failed')}")
        photos = data.get("photos") or {}
        if page > int(photos.get("pages") or 0):
            return []
        results = []
        for index, photo in enumerate(photos.get("photo") or [], start=1):
            url = photo.get("url_l") or photo.get("url_c") or photo.get("url_o")
            if not url:
                continue
            results.append(
                SourceResult(
                    image_url=url,
                    page_url=f"https://www.flickr.com/photos/{photo.get('owner')}/{photo.get('id')}",
                    title=photo.get("title") or "",
                    license=LICENSES.get(str(photo.get("license")), ""),
                    attribution=photo.get("ownername") or "",
                    rank=(page - 1) * self.page_size + index,
                )
            )
        return results

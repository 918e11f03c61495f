"""Build a source by name from plain configuration (job settings merged with Django settings)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .base import ConfigurationError, ImageSource
from .flickr import FlickrSource
from .folder import LocalFolderSource
from .openverse import OpenverseSource
from .s3 import S3PrefixSource
from .urllist import UrlListSource
from .wikimedia import WikimediaCommonsSource

SOURCE_NAMES = ("folder", "urls", "s3", "openverse", "wikimedia", "flickr")


def build_source(name: str, config: Mapping[str, Any]) -> ImageSource:
    loopback = bool(config.get("allow_loopback", False))
    max_bytes = int(config.get("max_bytes", 20 * 1024 * 1024))
    if name == "folder":
        return LocalFolderSource(config["root"], max_bytes=max_bytes)
    if name == "urls":
        return UrlListSource(config["path"])
    if name == "s3":
        return S3PrefixSource(
            bucket=config["bucket"], prefix=config.get("prefix", ""),
            endpoint_url=config.get("endpoint_url") or None, region=config.get("region"),
            max_bytes=max_bytes, allow_loopback=loopback,
        )  # fmt: skip
    if name == "openverse":
        return OpenverseSource(config.get("openverse_url") or "https://api.openverse.org",
                               allow_loopback=loopback)  # fmt: skip
    if name == "wikimedia":
        return WikimediaCommonsSource(
            config.get("wikimedia_url") or "https://commons.wikimedia.org/w/api.php",
            allow_loopback=loopback,
        )
    if name == "flickr":
        return FlickrSource(config.get("flickr_api_key", ""), allow_loopback=loopback,
                            api_url=config.get("flickr_url") or
                            "https://api.flickr.com/services/rest/")  # fmt: skip
    raise ConfigurationError(f"unknown source {name!r}; choose one of {', '.join(SOURCE_NAMES)}")

"""Build a source by name from plain configuration (Django settings merged with a job's
``source_config`` by the caller; nothing here reads settings)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .base import ConfigurationError, ImageSource
from .flickr import DEFAULT_API_URL as FLICKR_API_URL
from .flickr import OPEN_LICENSES, FlickrSource
from .folder import DEFAULT_MAX_BYTES, LocalFolderSource
from .openverse import ANONYMOUS_PAGE_SIZE, OpenverseSource
from .openverse import DEFAULT_BASE_URL as OPENVERSE_URL
from .s3 import S3PrefixSource
from .urllist import UrlListSource
from .wikimedia import DEFAULT_API_URL as WIKIMEDIA_URL
from .wikimedia import WikimediaCommonsSource

SOURCE_NAMES = ("folder", "urls", "s3", "openverse", "wikimedia", "flickr")


def _required(config: Mapping[str, Any], key: str, source: str) -> Any:
    value = config.get(key)
    if not value:
        raise ConfigurationError(f"the {source} source needs {key!r}")
    return value


def _folder(config: Mapping[str, Any], common: dict[str, Any]) -> ImageSource:
    return LocalFolderSource(
        _required(config, "root", "folder"),
        max_bytes=common["max_bytes"],
        allowed_roots=config.get("allowed_roots"),
    )


def _urls(config: Mapping[str, Any], common: dict[str, Any]) -> ImageSource:
    return UrlListSource(
        _required(config, "path", "urls"),
        fmt=config.get("format") or "auto",
        allowed_roots=config.get("allowed_roots"),
    )


def _s3(config: Mapping[str, Any], common: dict[str, Any]) -> ImageSource:
    return S3PrefixSource(
        bucket=_required(config, "bucket", "s3"),
        prefix=config.get("prefix") or "",
        endpoint_url=config.get("endpoint_url") or None,
        region=config.get("region") or None,
        access_key=config.get("access_key") or None,
        secret_key=config.get("secret_key") or None,
        session_token=config.get("session_token") or None,
        max_bytes=common["max_bytes"],
        allow_loopback=common["allow_loopback"],
    )


def _openverse(config: Mapping[str, Any], common: dict[str, Any]) -> ImageSource:
    return OpenverseSource(
        config.get("openverse_url") or OPENVERSE_URL,
        allow_loopback=common["allow_loopback"],
        token=config.get("openverse_token") or None,
        page_size=int(config.get("page_size") or ANONYMOUS_PAGE_SIZE),
        user_agent=config.get("user_agent") or None,
    )


def _wikimedia(config: Mapping[str, Any], common: dict[str, Any]) -> ImageSource:
    return WikimediaCommonsSource(
        config.get("wikimedia_url") or WIKIMEDIA_URL,
        allow_loopback=common["allow_loopback"],
        page_size=int(config.get("page_size") or 50),
        user_agent=config.get("user_agent") or None,
    )


def _flickr(config: Mapping[str, Any], common: dict[str, Any]) -> ImageSource:
    return FlickrSource(
        config.get("flickr_api_key") or "",
        api_url=config.get("flickr_url") or FLICKR_API_URL,
        allow_loopback=common["allow_loopback"],
        licenses=config.get("flickr_licenses") or OPEN_LICENSES,
        page_size=int(config.get("page_size") or 100),
        user_agent=config.get("user_agent") or None,
    )


_BUILDERS: dict[str, Callable[[Mapping[str, Any], dict[str, Any]], ImageSource]] = {
    "folder": _folder,
    "urls": _urls,
    "s3": _s3,
    "openverse": _openverse,
    "wikimedia": _wikimedia,
    "flickr": _flickr,
}


def build_source(name: str, config: Mapping[str, Any]) -> ImageSource:
    """The source called ``name``, configured from ``config``. Keys (all optional unless the
    source needs them): ``allow_loopback``, ``max_bytes``, ``page_size``, ``user_agent`` (web
    sources; Wikimedia asks for contact details in it); folder: ``root``,
    ``allowed_roots``; urls: ``path``, ``format`` (auto/csv/txt), ``allowed_roots``; s3:
    ``bucket``, ``prefix``, ``endpoint_url``, ``region``, ``access_key``, ``secret_key``,
    ``session_token``; openverse: ``openverse_url``, ``openverse_token``; wikimedia:
    ``wikimedia_url``; flickr: ``flickr_api_key``, ``flickr_url``, ``flickr_licenses``.
    Raises ConfigurationError for an unknown name or missing settings."""
    builder = _BUILDERS.get(name)
    if builder is None:
        raise ConfigurationError(
            f"unknown source {name!r}; choose one of {', '.join(SOURCE_NAMES)}"
        )
    common = {
        "allow_loopback": bool(config.get("allow_loopback", False)),
        "max_bytes": int(config.get("max_bytes") or DEFAULT_MAX_BYTES),
    }
    return builder(config, common)


# What a collection job's own ``source_config`` may hold, per source, and the type of each value.
# Everything else — whether loopback addresses may be fetched, byte limits, API endpoints and
# keys, credentials — is the operator's setting, merged in when the job runs, never job data: a
# job row (editable by anyone with admin access to it) must not widen what the server does.
JOB_CONFIG_SCHEMA: dict[str, dict[str, type]] = {
    "folder": {"root": str, "allowed_roots": list},
    "urls": {"path": str, "format": str, "allowed_roots": list},
    "s3": {"bucket": str, "prefix": str, "endpoint_url": str, "region": str},
    "openverse": {"page_size": int, "user_agent": str},
    "wikimedia": {"page_size": int, "user_agent": str},
    "flickr": {"page_size": int, "user_agent": str, "flickr_licenses": str},
}
URL_LIST_FORMATS = ("auto", "csv", "txt")
MAX_PAGE_SIZE = 500


def job_config_validate(name: str, config: Any) -> dict[str, Any]:
    """A job's ``source_config`` checked against the source's own schema: a dict with known keys
    and values of the right type. Raises ConfigurationError naming the first problem."""
    schema = JOB_CONFIG_SCHEMA.get(name)
    if schema is None:
        raise ConfigurationError(
            f"unknown source {name!r}; choose one of {', '.join(SOURCE_NAMES)}"
        )
    if not isinstance(config, Mapping):
        raise ConfigurationError("source_config must be an object")
    unknown = sorted(set(config) - set(schema))
    if unknown:
        raise ConfigurationError(
            f"the {name} source does not take {', '.join(map(repr, unknown))} from a job "
            f"(allowed: {', '.join(sorted(schema)) or 'nothing'}); server-wide limits such as "
            "loopback access are settings"
        )
    for key, kind in schema.items():
        if key not in config or config[key] is None:
            continue
        value = config[key]
        if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
            raise ConfigurationError(f"{key!r} must be a whole number")
        if kind is not int and not isinstance(value, kind):
            raise ConfigurationError(f"{key!r} must be a {kind.__name__}")
        if kind is list and not all(isinstance(entry, str) for entry in value):
            raise ConfigurationError(f"{key!r} must be a list of paths")
    if name == "urls" and config.get("format") not in (None, "", *URL_LIST_FORMATS):
        raise ConfigurationError(f"'format' must be one of {', '.join(URL_LIST_FORMATS)}")
    if (
        "page_size" in config
        and config["page_size"] is not None
        and not (1 <= config["page_size"] <= MAX_PAGE_SIZE)
    ):
        raise ConfigurationError(f"'page_size' must be 1 to {MAX_PAGE_SIZE}")
    return dict(config)

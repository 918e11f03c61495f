"""The web search sources (Openverse, Wikimedia Commons, Flickr) against a real HTTP server on
127.0.0.1 answering in each provider's documented JSON shape (fixtures/), with pagination and
the failures a live API produces."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from candidates.sources import base
from candidates.sources.base import USER_AGENT, ConfigurationError, SourceError
from candidates.sources.flickr import FlickrSource
from candidates.sources.openverse import OpenverseSource
from candidates.sources.registry import SOURCE_NAMES, build_source
from candidates.sources.wikimedia import WikimediaCommonsSource

FIXTURES = Path(__file__).parent / "fixtures"

Reply = tuple[int, bytes | dict, dict[str, str]]
Route = Callable[[dict[str, str]], Reply]


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def ok(body: bytes | dict) -> Reply:
    return 200, body, {}


@dataclass
class Request:
    path: str
    params: dict[str, str]
    headers: dict[str, str]


@dataclass
class FakeApi:
    """A local HTTP server whose routes tests set; it records every request it answers."""

    url: str
    routes: dict[str, Route] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)


@pytest.fixture
def api() -> Iterator[FakeApi]:
    state = FakeApi(url="")

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

        def do_GET(self) -> None:  # noqa: N802 - stdlib naming
            parts = urlsplit(self.path)
            params = {key: values[0] for key, values in parse_qs(parts.query).items()}
            state.requests.append(Request(parts.path, params, dict(self.headers)))
            route = state.routes.get(parts.path)
            status, body, headers = route(params) if route else (404, {"detail": "no"}, {})
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up first (the timeout test): expected

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True  # a deliberately slow handler must not hold up teardown
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield state
    server.shutdown()
    server.server_close()
    thread.join()


# --- Openverse -------------------------------------------------------------------------------


def _openverse_pages(params: dict[str, str]) -> Reply:
    page = int(params["page"])
    if page > 2:
        # Openverse refuses pages past its window rather than answering with an empty page.
        return 400, {"detail": "Invalid page."}, {}
    return ok(fixture(f"openverse_images_page{page}.json"))


def test_openverse_maps_results_and_provenance(api):
    api.routes["/v1/images/"] = _openverse_pages
    results = OpenverseSource(api.url, allow_loopback=True).search("whippet", 1)
    assert [(r.image_url, r.license, r.rank) for r in results] == [
        ("https://live.staticflickr.com/7010/6801442146_5c1f3e4b9a_b.jpg", "CC BY-SA 2.0", 1),
        ("https://upload.wikimedia.org/wikipedia/commons/a/ab/Whippet_sitting.jpg", "CC0 1.0", 2),
    ]
    first = results[0]
    assert first.page_url == "https://www.flickr.com/photos/71925535@N03/6801442146"
    assert first.title == "Whippet on the beach"
    assert first.attribution.startswith('"Whippet on the beach" by Jo Example')
    assert first.fetch is None and first.wnid is None  # the pipeline downloads it, SSRF-safe
    (request,) = api.requests
    assert request.params == {"q": "whippet", "page": "1", "page_size": "20"}
    assert request.headers["User-Agent"] == USER_AGENT


def test_openverse_pages_until_its_announced_page_count(api):
    api.routes["/v1/images/"] = _openverse_pages
    source = OpenverseSource(api.url, allow_loopback=True)
    pages = [source.search("whippet", page) for page in (1, 2, 3)]
    assert [len(page) for page in pages] == [2, 1, 0]
    assert len(api.requests) == 2  # page 3 is past page_count: not asked (it would be a 400)
    (racing,) = pages[1]
    # The javascript: landing page is dropped; the item without an image URL is skipped.
    assert (racing.page_url, racing.license, racing.attribution) == (
        "",
        "Public Domain Mark 1.0",
        "R. Runner",
    )
    assert racing.rank == 21  # second page of 20


def test_openverse_anonymous_page_size_is_capped_and_token_is_sent(api):
    api.routes["/v1/images/"] = _openverse_pages
    OpenverseSource(api.url, allow_loopback=True, page_size=100).search("dog", 1)
    OpenverseSource(api.url, allow_loopback=True, page_size=100, token="t0k").search("dog", 1)
    anonymous, authenticated = api.requests
    assert anonymous.params["page_size"] == "20" and "Authorization" not in anonymous.headers
    assert authenticated.params["page_size"] == "100"
    assert authenticated.headers["Authorization"] == "Bearer t0k"


# --- Wikimedia Commons -----------------------------------------------------------------------


def _commons_pages(params: dict[str, str]) -> Reply:
    return ok(fixture({"0": "wikimedia_search_page1.json", "2": "wikimedia_search_page2.json"}[
        params["gsroffset"]]))  # fmt: skip


def test_wikimedia_sends_the_documented_query(api):
    api.routes["/w/api.php"] = _commons_pages
    WikimediaCommonsSource(f"{api.url}/w/api.php", allow_loopback=True).search("whippet", 1)
    params = api.requests[0].params
    assert params["action"] == "query" and params["format"] == "json"
    assert params["generator"] == "search" and params["gsrnamespace"] == "6"
    assert params["gsrsearch"].endswith("whippet") and params["gsroffset"] == "0"
    assert params["prop"] == "imageinfo" and params["iiprop"] == "url|extmetadata"


def test_configured_user_agent_is_sent(api):
    # Wikimedia's User-Agent policy asks clients for contact details.
    api.routes["/w/api.php"] = _commons_pages
    source = build_source(
        "wikimedia",
        {"wikimedia_url": f"{api.url}/w/api.php", "allow_loopback": True,
         "user_agent": "SynsetLab/0.1 (https://lab.example.org; ops@lab.example.org)"},
    )  # fmt: skip
    source.search("whippet", 1)
    assert (
        api.requests[0]
        .headers["User-Agent"]
        .endswith("(https://lab.example.org; ops@lab.example.org)")
    )


def test_wikimedia_results_in_search_order_with_license_and_plain_artist(api):
    api.routes["/w/api.php"] = _commons_pages
    source = WikimediaCommonsSource(f"{api.url}/w/api.php", allow_loopback=True, page_size=2)
    running, resting = source.search("whippet", 1)
    assert (running.title, running.rank, running.license) == (
        "Whippet running.jpg",
        1,
        "Public domain",
    )
    # No thumbnail offered: the original; otherwise the 1024 px rendition.
    assert running.image_url.endswith("/7/7b/Whippet_running.jpg")
    assert resting.image_url.endswith("/1024px-Whippet_at_rest.jpg")
    assert resting.attribution == "Example & friends"
    assert resting.page_url == "https://commons.wikimedia.org/wiki/File:Whippet_at_rest.jpg"


def test_wikimedia_follows_gsroffset_and_stops_without_continue(api):
    api.routes["/w/api.php"] = _commons_pages
    source = WikimediaCommonsSource(f"{api.url}/w/api.php", allow_loopback=True, page_size=2)
    pages = [source.search("whippet", page) for page in (1, 2, 3)]
    assert [len(page) for page in pages] == [2, 1, 0]
    assert [r.params["gsroffset"] for r in api.requests] == ["0", "2"]  # page 3 not asked
    (puppy,) = pages[1]
    assert (puppy.title, puppy.rank, puppy.license, puppy.attribution) == (
        "Whippet puppy.png",
        3,
        "CC BY 2.0",
        "",
    )


def test_wikimedia_api_error_object_is_a_source_error(api):
    api.routes["/w/api.php"] = lambda params: ok(fixture("wikimedia_error.json"))
    with pytest.raises(SourceError, match="search-too-deep"):
        WikimediaCommonsSource(f"{api.url}/w/api.php", allow_loopback=True).search("dog", 1)


# --- Flickr ----------------------------------------------------------------------------------


def _flickr_pages(params: dict[str, str]) -> Reply:
    if params["api_key"] != "good-key":
        return ok(fixture("flickr_invalid_key.json"))
    # Like Flickr, a page past the end answers with the last page again.
    page = min(int(params["page"]), 2)
    return ok(fixture(f"flickr_photos_search_page{page}.json"))


def _flickr(api: FakeApi, key: str = "good-key") -> FlickrSource:
    api.routes["/services/rest/"] = _flickr_pages
    return FlickrSource(key, api_url=f"{api.url}/services/rest/", allow_loopback=True, page_size=2)


def test_flickr_without_an_api_key_is_a_configuration_error():
    with pytest.raises(ConfigurationError, match="FLICKR_API_KEY"):
        FlickrSource("")
    with pytest.raises(ConfigurationError, match="API key"):
        build_source("flickr", {"flickr_api_key": ""})


def test_flickr_sends_the_documented_search(api):
    _flickr(api).search("whippet", 1)
    params = api.requests[0].params
    assert params["method"] == "flickr.photos.search" and params["api_key"] == "good-key"
    assert (params["text"], params["page"], params["per_page"]) == ("whippet", "1", "2")
    assert params["format"] == "json" and params["nojsoncallback"] == "1"
    assert set(params["extras"].split(",")) >= {"url_o", "url_l", "url_c", "owner_name", "license"}
    assert "0" not in params["license"].split(",")  # never "All Rights Reserved"


def test_flickr_maps_sizes_licenses_and_owner(api):
    snow, untitled = _flickr(api).search("whippet", 1)
    assert snow.image_url.endswith("_b.jpg")  # url_l preferred over url_c and url_o
    assert (snow.license, snow.attribution, snow.title) == (
        "CC BY 2.0",
        "Jo Example",
        "Whippet in the snow",
    )
    assert snow.page_url == "https://www.flickr.com/photos/71925535@N03/53101234567"
    assert untitled.image_url.endswith("_c.jpg") and untitled.license == "CC0 1.0"
    assert [snow.rank, untitled.rank] == [1, 2]


def test_flickr_stops_at_its_page_count_and_keeps_unknown_license_ids(api):
    source = _flickr(api)
    (portrait,) = source.search("whippet", 2)  # the photo without any public size is skipped
    assert portrait.image_url.endswith("_o.jpg")
    assert portrait.license == "Flickr license 16"
    assert source.search("whippet", 3) == []  # Flickr would repeat page 2


def test_flickr_invalid_key_is_a_configuration_error(api):
    with pytest.raises(ConfigurationError, match="Invalid API Key"):
        _flickr(api, key="bad-key").search("whippet", 1)


def test_flickr_other_failures_are_source_errors(api):
    api.routes["/services/rest/"] = lambda params: ok(
        {"stat": "fail", "code": 105, "message": "Service currently unavailable"}
    )
    source = FlickrSource("k", api_url=f"{api.url}/services/rest/", allow_loopback=True)
    with pytest.raises(SourceError, match="105: Service currently unavailable"):
        source.search("whippet", 1)


# --- failures shared by every web source -----------------------------------------------------


def _sources(api: FakeApi) -> list:
    return [
        OpenverseSource(api.url, allow_loopback=True),
        WikimediaCommonsSource(f"{api.url}/w/api.php", allow_loopback=True),
        FlickrSource("k", api_url=f"{api.url}/services/rest/", allow_loopback=True),
    ]


def _route_everything(api: FakeApi, route: Route) -> None:
    for path in ("/v1/images/", "/w/api.php", "/services/rest/"):
        api.routes[path] = route


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        ((500, {"detail": "boom"}, {}), "HTTP 500"),
        ((503, b"<html>down</html>", {}), "HTTP 503"),
        ((429, {"detail": "slow down"}, {"Retry-After": "1"}), "HTTP 429"),
        ((200, b"<html>not json</html>", {}), "not JSON"),
        ((200, b'{"truncated": ', {}), "not JSON"),
        ((200, b"[1, 2, 3]", {}), "expected a JSON object"),
        ((302, b"", {"Location": "http://169.254.169.254/latest/meta-data/"}), "HTTP 302"),
    ],
)
def test_http_failures_are_source_errors(api, reply, message):
    _route_everything(api, lambda params: reply)
    for source in _sources(api):
        with pytest.raises(SourceError, match=message):
            source.search("whippet", 1)
    # The redirect is reported, never followed.
    assert {r.path for r in api.requests} == {"/v1/images/", "/w/api.php", "/services/rest/"}


def test_oversized_response_is_refused(api, monkeypatch):
    monkeypatch.setattr(base, "MAX_API_RESPONSE_BYTES", 1000)
    _route_everything(api, lambda params: ok({"results": ["x" * 100] * 50}))
    with pytest.raises(SourceError, match="larger than 1000 bytes"):
        OpenverseSource(api.url, allow_loopback=True).search("whippet", 1)


def test_slow_api_times_out_as_a_source_error(api):
    def slow(params: dict[str, str]) -> Reply:
        time.sleep(1.5)
        return ok({"results": []})

    api.routes["/v1/images/"] = slow
    source = OpenverseSource(api.url, allow_loopback=True, timeout=(1.0, 0.3))
    with pytest.raises(SourceError, match="Timeout"):
        source.search("whippet", 1)


def test_unreachable_api_is_a_source_error():
    with pytest.raises(SourceError, match="ConnectionError"):
        OpenverseSource("http://127.0.0.1:1", allow_loopback=True).search("whippet", 1)


@pytest.mark.parametrize(
    "endpoint", ["http://127.0.0.1:8000", "http://10.1.2.3", "http://169.254.169.254", "ftp://x"]
)
def test_internal_endpoints_are_refused_unless_loopback_is_allowed(endpoint):
    with pytest.raises(ConfigurationError, match="refused"):
        OpenverseSource(endpoint).search("whippet", 1)


def test_pages_start_at_one(api):
    with pytest.raises(ValueError, match="start at 1"):
        OpenverseSource(api.url, allow_loopback=True).search("whippet", 0)
    assert api.requests == []


# --- registry --------------------------------------------------------------------------------


def test_registry_builds_every_source_from_plain_config(api, tmp_path):
    (tmp_path / "list.txt").write_text("https://img.example/a.jpg\n")
    config = {
        "allow_loopback": True,
        "root": str(tmp_path),
        "path": str(tmp_path / "list.txt"),
        "bucket": "images",
        "endpoint_url": api.url,
        "access_key": "a",
        "secret_key": "b",
        "region": "us-east-1",
        "openverse_url": api.url,
        "wikimedia_url": f"{api.url}/w/api.php",
        "flickr_api_key": "k",
        "flickr_url": f"{api.url}/services/rest/",
    }
    built = {name: build_source(name, config) for name in SOURCE_NAMES}
    assert {name: source.name for name, source in built.items()} == {n: n for n in SOURCE_NAMES}
    assert [name for name, source in built.items() if source.uses_queries] == [
        "openverse",
        "wikimedia",
        "flickr",
    ]
    api.routes["/v1/images/"] = _openverse_pages
    assert len(built["openverse"].search("whippet", 1)) == 2


def test_registry_refuses_unknown_names_and_missing_settings(tmp_path):
    with pytest.raises(ConfigurationError, match="unknown source 'bing'"):
        build_source("bing", {})
    with pytest.raises(ConfigurationError, match="'root'"):
        build_source("folder", {})
    with pytest.raises(ConfigurationError, match="'path'"):
        build_source("urls", {})
    with pytest.raises(ConfigurationError, match="outside the allowed folders"):
        build_source("folder", {"root": "/etc", "allowed_roots": [str(tmp_path)]})

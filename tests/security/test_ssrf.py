"""SSRF through every server-side fetch (Label Studio's import SSRF and its redirect / DNS
rebinding bypass; CVAT's SSRF through custom storage endpoints — docs/architecture.md §6):
candidate URLs in a collection job, redirects, numeric host spellings, DNS rebinding, S3 and
web-API endpoints. A canary server on 127.0.0.1 proves no blocked request ever arrives. There
are no webhooks."""

from __future__ import annotations

import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from candidates.collection import collection_job_create, collection_job_run
from candidates.fetching import (
    BlockedAddressError,
    ConnectionFailedError,
    FetchPolicy,
    fetch_image_bytes,
)
from candidates.models import Candidate
from candidates.sources.base import ConfigurationError, SourceError
from candidates.sources.registry import build_source
from tests.factories import SynsetFactory


class _Canary(ThreadingHTTPServer):
    daemon_threads = True


@pytest.fixture
def canary():
    """Counts every request; /redirect?to=X answers 302 to X."""
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):  # noqa: N802
            seen.append(self.path)
            if self.path.startswith("/redirect?to="):
                self.send_response(302)
                self.send_header("Location", self.path.split("=", 1)[1])
            else:
                self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = _Canary(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    server.seen = seen
    yield server
    server.shutdown()
    server.server_close()


def _loopback_spellings(port: int) -> list[str]:
    return [
        f"http://127.0.0.1:{port}/direct",
        f"http://localhost:{port}/direct",
        f"http://2130706433:{port}/decimal",
        f"http://0177.0.0.1:{port}/octal",
        f"http://0x7f.0.0.1:{port}/hex",
        f"http://127.1:{port}/short",
        f"http://[::ffff:127.0.0.1]:{port}/mapped",
        f"http://[::1]:{port}/v6",
        f"http://0.0.0.0:{port}/zero",
    ]


INTERNAL = [
    "http://169.254.169.254/latest/meta-data/",
    "http://[fd00::1]/x.jpg",
    "http://10.0.0.1/x.jpg",
    "http://192.168.1.1/x.jpg",
    "http://100.64.0.1/x.jpg",
]


@pytest.mark.django_db
def test_collection_job_refuses_internal_candidate_urls(canary, settings, tmp_path):
    # Given a URL list naming loopback (every spelling) and internal addresses
    settings.CANDIDATES_ALLOW_LOOPBACK = False
    port = canary.server_address[1]
    synset = SynsetFactory()
    urls = _loopback_spellings(port) + INTERNAL
    path = tmp_path / "urls.txt"
    path.write_text("\n".join(urls) + "\n")
    job = collection_job_create(wnids=[synset.wnid], source="urls",
                                source_config={"path": str(path)})  # fmt: skip

    # When the job runs
    collection_job_run(job_id=job.pk)

    # Then every URL is rejected as a blocked address, and nothing reached the canary
    rows = Candidate.objects.filter(job=job)
    assert rows.count() == len(urls)
    assert set(rows.values_list("reject_reason", flat=True)) == {"blocked_address"}
    assert canary.seen == []


@pytest.mark.parametrize("target", [
    "http://169.254.169.254/latest/meta-data/iam/",
    "http://[::ffff:127.0.0.1]:{port}/mapped",
    "http://[::ffff:169.254.169.254]/",
    "http://10.1.2.3/",
    "http://[fe80::1]/",
])  # fmt: skip
def test_redirects_to_internal_addresses_are_refused(canary, target):
    # The canary itself is allowed (loopback, as in tests); where it redirects to is not.
    port = canary.server_address[1]
    url = f"http://127.0.0.1:{port}/redirect?to=" + target.format(port=port)
    with pytest.raises(BlockedAddressError):
        fetch_image_bytes(url, policy=FetchPolicy(allow_loopback=True))
    assert canary.seen == [url.split(str(port), 1)[1]]  # only the first hop arrived


def test_dns_rebinding_cannot_reach_loopback(canary, monkeypatch):
    # Given a host that resolves to a public address once, then to 127.0.0.1
    answers = iter(["93.184.216.34"] + ["127.0.0.1"] * 10)
    real_getaddrinfo = socket.getaddrinfo

    def rebinding(host, port, *args, **kwargs):
        if host == "rebind.test":
            address = next(answers)
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]
        return real_getaddrinfo(host, port, *args, **kwargs)

    connected: list[str] = []

    def no_network(address, *args, **kwargs):
        connected.append(address[0])  # stands in for the internet: refuse, never leave the box
        raise ConnectionRefusedError("test: no outside network")

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    monkeypatch.setattr("candidates.fetching.socket.create_connection", no_network)

    # When the URL is fetched
    with pytest.raises(ConnectionFailedError):
        fetch_image_bytes(f"http://rebind.test:{canary.server_address[1]}/x", policy=FetchPolicy())

    # Then only the checked, pinned address was ever connected to
    assert connected == ["93.184.216.34"]
    assert canary.seen == []


def test_host_with_any_private_answer_is_refused(monkeypatch):
    monkeypatch.setattr(socket, "getaddrinfo", lambda host, port, *a, **k: [
        (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", port)),
        (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("169.254.169.254", port)),
    ])  # fmt: skip
    with pytest.raises(BlockedAddressError):
        fetch_image_bytes("http://split.test/x.jpg", policy=FetchPolicy())


ENDPOINTS = [
    "http://169.254.169.254/",
    "http://127.0.0.1:{port}/",
    "http://2130706433:{port}/",
    "http://[::ffff:127.0.0.1]:{port}/",
    "http://10.0.0.8:9000/",
]


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_s3_endpoint_on_internal_address_is_refused(canary, endpoint):
    url = endpoint.format(port=canary.server_address[1])
    with pytest.raises(ConfigurationError, match="refused"):
        build_source("s3", {"bucket": "b", "endpoint_url": url, "allow_loopback": False,
                            "max_bytes": 1024})  # fmt: skip
    assert canary.seen == []


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize(("source", "key"), [
    ("openverse", "openverse_url"), ("wikimedia", "wikimedia_url"), ("flickr", "flickr_url"),
])  # fmt: skip
def test_web_api_endpoint_on_internal_address_is_refused(canary, endpoint, source, key):
    url = endpoint.format(port=canary.server_address[1])
    config = {key: url, "allow_loopback": False, "max_bytes": 1024, "flickr_api_key": "k"}
    with pytest.raises(SourceError):
        build_source(source, config).search("dog", 1, wnid="n02084071")
    assert canary.seen == []


@pytest.mark.django_db
def test_web_api_cannot_start_server_side_sources(admin_user, client):
    client.force_login(admin_user)
    for source, config in (("s3", {}), ("folder", {}), ("urls", {})):
        response = client.post(
            "/api/collection-jobs/",
            {"wnids": ["n02084071"], "source": source, "source_config": config},
            content_type="application/json",
        )
        assert response.status_code in (400, 403)

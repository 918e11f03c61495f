"""Tests for candidates/fetching.py against a real local HTTP(S) server."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from candidates import fetching
from candidates.fetching import (
    FetchError,
    FetchPolicy,
    address_is_public,
    check_url,
    fetch_image_bytes,
)
from candidates.images import ImageRejected, process_image

LOCAL = FetchPolicy(allow_loopback=True, total_timeout=10.0, connect_timeout=2.0)
STRICT = FetchPolicy(total_timeout=10.0, connect_timeout=2.0)
PUBLIC_IP = "93.184.216.34"


def fake_getaddrinfo(answers: dict[str, list[str]]) -> Callable[..., list[Any]]:
    """A resolver returning scripted answers per host; each call pops the next answer if many."""
    calls: dict[str, int] = {}
    real_getaddrinfo = socket.getaddrinfo

    def resolve(host: str, port: Any, *args: Any, **kwargs: Any) -> list[Any]:
        if host not in answers:
            # IP literals (socket.create_connection resolves its pinned address numerically).
            return real_getaddrinfo(host, port, *args, flags=socket.AI_NUMERICHOST)
        options = answers[host]
        index = min(calls.get(host, 0), len(options) - 1)
        calls[host] = calls.get(host, 0) + 1
        address = options[index]
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        sockaddr = (address, int(port), 0, 0) if family == socket.AF_INET6 else (address, int(port))
        return [(family, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", sockaddr)]

    resolve.calls = calls  # type: ignore[attr-defined]
    return resolve


def record_connections(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    seen: list[tuple[str, int]] = []
    original = socket.create_connection

    def create_connection(address: tuple[str, int], *args: Any, **kwargs: Any) -> socket.socket:
        seen.append((address[0], address[1]))
        return original(address, *args, **kwargs)

    monkeypatch.setattr(socket, "create_connection", create_connection)
    return seen


def reason_of(url: str, policy: FetchPolicy) -> str:
    with pytest.raises(FetchError) as caught:
        fetch_image_bytes(url, policy=policy)
    return caught.value.reason


# --- address classification -------------------------------------------------------------------


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.255.0.9",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.0.10",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "255.255.255.255",
        "224.0.0.1",
        "198.18.0.1",
        "::1",
        "::",
        "fe80::1",
        "fe80::1%eth0",
        "fd00:ec2::254",
        "fc00::1",
        "fec0::1",
        "ff02::1",
        "::ffff:127.0.0.1",
        "::ffff:169.254.169.254",
        "::127.0.0.1",
        "2002:7f00:1::",  # 6to4 wrapping 127.0.0.1
        "2002:a9fe:a9fe::",  # 6to4 wrapping the metadata address
        "64:ff9b::7f00:1",  # NAT64 wrapping 127.0.0.1
        "64:ff9b::a9fe:a9fe",  # NAT64 wrapping 169.254.169.254
        "2001:0:4136:e378:8000:63bf:3fff:fdd2",  # Teredo tunnel
        "2001:db8::1",
        "not an ip",
    ],
)
def test_non_public_addresses_are_refused(address: str) -> None:
    assert address_is_public(address) is False


@pytest.mark.parametrize(
    "address", ["8.8.8.8", "93.184.216.34", "2606:4700:4700::1111", "::ffff:8.8.8.8"]
)
def test_public_addresses_are_accepted(address: str) -> None:
    assert address_is_public(address) is True


def test_allow_loopback_opens_only_plain_loopback() -> None:
    assert address_is_public("127.0.0.1", allow_loopback=True)
    assert address_is_public("127.8.9.10", allow_loopback=True)
    assert address_is_public("::1", allow_loopback=True)
    for address in (
        "169.254.169.254",
        "10.0.0.1",
        "192.168.1.1",
        "fe80::1",
        "fd00::1",
        "::ffff:127.0.0.1",
        "0.0.0.0",
    ):
        assert not address_is_public(address, allow_loopback=True), address


# --- URL checks (no network) --------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/",
        "http://localhost/",
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://[::ffff:7f00:1]/",
        "http://2130706433/",  # decimal spelling of 127.0.0.1
        "http://0177.0.0.1/",  # octal
        "http://0x7f.1/",  # hex, two-part form
        "http://0x7f000001/",
        "http://127.1/",
        "http://017700000001/",
        "http://10.0.0.1/",
        "http://172.31.255.255/",
        "http://192.168.1.1:8080/admin",
        "http://169.254.169.254/latest/meta-data/",
        "http://0xa9fea9fe/",  # 169.254.169.254 in hex
        "http://[fe80::1]/",
        "http://[fd12:3456::1]/",
        "http://[::]/",
        "http://0.0.0.0/",
        "http://0/",
        "http://[2002:7f00:1::]/",
        "http://[64:ff9b::a9fe:a9fe]/",
        "https://127.0.0.1:8443/x.jpg",
        "http://127.0.0.1./",
    ],
)
def test_check_url_blocks_internal_targets(url: str) -> None:
    with pytest.raises(FetchError) as caught:
        check_url(url, STRICT)
    assert caught.value.reason == "blocked_address"


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/",
        "http://10.0.0.1/",
        "http://[fe80::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://192.168.0.1/",
    ],
)
def test_allow_loopback_still_blocks_private_and_link_local(url: str) -> None:
    with pytest.raises(FetchError) as caught:
        check_url(url, LOCAL)
    assert caught.value.reason == "blocked_address"


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/a.jpg",
        "file:///etc/passwd",
        "gopher://example.com/",
        "javascript:alert(1)",
        "http://",
        "http:///path",
        "http://user:secret@example.com/a.jpg",
        "http://example.com@127.0.0.1/",
        "http://exa mple.com/a.jpg",
        "http://example.com/a\r\nX-Injected: 1",
        "http://example.com:99999/",
        "http://example.com:port/",
        "",
    ],
)
def test_check_url_rejects_malformed_and_non_http_urls(url: str) -> None:
    with pytest.raises(FetchError) as caught:
        check_url(url, STRICT)
    assert caught.value.reason == "bad_url"


def test_check_url_rejects_host_when_any_answer_is_private(monkeypatch: pytest.MonkeyPatch) -> None:
    def resolve(host: str, port: Any, *args: Any, **kwargs: Any) -> list[Any]:
        return [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", (PUBLIC_IP, port)),
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.7", port)),
        ]

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    with pytest.raises(FetchError) as caught:
        check_url("http://mixed.example/a.jpg", STRICT)
    assert caught.value.reason == "blocked_address"
    assert "10.0.0.7" in str(caught.value)


def test_check_url_normalises_resolver_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo({"v6.example": ["::ffff:7f00:1"]}))
    with pytest.raises(FetchError) as caught:
        check_url("http://v6.example/", LOCAL)
    assert caught.value.reason == "blocked_address"


def test_check_url_returns_pinned_addresses_for_public_host(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo({"images.example": [PUBLIC_IP]}))
    checked = check_url("https://Images.Example/cat.jpg?size=large#frag", STRICT)
    assert checked.host == "images.example"
    assert checked.port == 443
    assert checked.addresses == (PUBLIC_IP,)
    assert checked.target == "/cat.jpg?size=large"


def test_unresolvable_host_is_a_connection_error() -> None:
    with pytest.raises(FetchError) as caught:
        check_url("http://does-not-exist.invalid/", STRICT)
    assert caught.value.reason == "connection_error"


# --- real downloads from the local server -------------------------------------------------------


def test_downloads_image_from_allowed_loopback_server(http_server, photo_jpeg: bytes) -> None:
    result = fetch_image_bytes(http_server.url("/image.jpg"), policy=LOCAL)
    assert result.data == photo_jpeg
    assert result.content_type == "image/jpeg"
    assert result.final_url == http_server.url("/image.jpg")
    assert result.redirects == ()
    assert result.peer_address == "127.0.0.1"
    assert http_server.requests[-1]["accept_encoding"] == "identity"


def test_loopback_server_is_blocked_by_default_policy(http_server) -> None:
    assert reason_of(http_server.url("/image.jpg"), STRICT) == "blocked_address"
    assert http_server.requests == []  # never contacted


def test_body_without_content_length_is_read_to_the_end(http_server, photo_jpeg: bytes) -> None:
    result = fetch_image_bytes(http_server.url("/no-length"), policy=LOCAL)
    assert result.data == photo_jpeg


def test_html_served_as_jpeg_downloads_but_is_rejected_as_image(http_server) -> None:
    result = fetch_image_bytes(http_server.url("/html-as-jpeg"), policy=LOCAL)
    assert result.content_type == "image/jpeg"
    with pytest.raises(ImageRejected) as caught:
        process_image(result.data)
    assert caught.value.reason == "not_an_image"


def test_http_error_status_carries_the_code(http_server) -> None:
    with pytest.raises(fetching.HttpStatusError) as caught:
        fetch_image_bytes(http_server.url("/status?code=404"), policy=LOCAL)
    assert caught.value.reason == "http_error"
    assert caught.value.status == 404


def test_body_shorter_than_content_length_is_a_connection_error(http_server) -> None:
    assert reason_of(http_server.url("/short"), LOCAL) == "connection_error"


def test_refused_connection_is_a_connection_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    assert reason_of(f"http://127.0.0.1:{port}/x.jpg", LOCAL) == "connection_error"


# --- size and time caps -------------------------------------------------------------------------


def test_declared_content_length_over_cap_is_rejected_before_reading(http_server) -> None:
    policy = FetchPolicy(allow_loopback=True, max_bytes=1024 * 1024, total_timeout=10)
    started = time.monotonic()
    assert reason_of(http_server.url("/big"), policy) == "too_large"
    assert time.monotonic() - started < 2


@pytest.mark.parametrize("path", ["/big-no-length", "/big-chunked"])
def test_streamed_body_over_cap_is_cut_off(http_server, path: str) -> None:
    policy = FetchPolicy(allow_loopback=True, max_bytes=512 * 1024, total_timeout=10)
    assert reason_of(http_server.url(path), policy) == "too_large"


def test_max_bytes_counts_exactly(http_server, photo_jpeg: bytes) -> None:
    exact = FetchPolicy(allow_loopback=True, max_bytes=len(photo_jpeg))
    assert fetch_image_bytes(http_server.url("/no-length"), policy=exact).data == photo_jpeg
    one_less = FetchPolicy(allow_loopback=True, max_bytes=len(photo_jpeg) - 1)
    assert reason_of(http_server.url("/no-length"), one_less) == "too_large"


def test_trickling_body_is_cut_off_at_total_timeout(http_server) -> None:
    policy = FetchPolicy(allow_loopback=True, total_timeout=1.5, connect_timeout=1.0)
    started = time.monotonic()
    assert reason_of(http_server.url("/trickle"), policy) == "timeout"
    assert 1.3 < time.monotonic() - started < 3.0


def test_trickling_headers_are_cut_off_at_total_timeout(http_server) -> None:
    policy = FetchPolicy(allow_loopback=True, total_timeout=1.5, connect_timeout=1.0)
    started = time.monotonic()
    assert reason_of(http_server.url("/trickle-headers"), policy) == "timeout"
    assert time.monotonic() - started < 3.0


def test_one_watchdog_thread_keeps_every_deadline(http_server, photo_jpeg: bytes) -> None:
    """Downloads start no thread of their own: one watchdog holds every deadline, fast fetches
    leave it nothing to cut, and a stalled one next to them is still cut on time."""
    policy = FetchPolicy(allow_loopback=True, total_timeout=1.5, connect_timeout=1.0)
    for _ in range(20):
        assert fetch_image_bytes(http_server.url("/image.jpg"), policy=LOCAL).data == photo_jpeg
    started = time.monotonic()
    assert reason_of(http_server.url("/trickle-headers"), policy) == "timeout"
    assert time.monotonic() - started < 3.0
    names = [thread.name for thread in threading.enumerate()]
    assert names.count("fetch-deadlines") == 1
    assert not [thread for thread in threading.enumerate() if isinstance(thread, threading.Timer)]


# --- redirects ----------------------------------------------------------------------------------


def test_redirect_chain_is_followed_and_recorded(http_server, photo_jpeg: bytes) -> None:
    result = fetch_image_bytes(http_server.url("/chain/3"), policy=LOCAL)
    assert result.data == photo_jpeg
    assert result.redirects == (
        http_server.url("/chain/3"),
        http_server.url("/chain/2"),
        http_server.url("/chain/1"),
    )
    assert result.final_url == http_server.url("/image.jpg")


def test_redirect_loop_stops_at_max_redirects(http_server) -> None:
    policy = FetchPolicy(allow_loopback=True, max_redirects=5)
    assert reason_of(http_server.url("/loop"), policy) == "too_many_redirects"
    assert len(http_server.requests) == 6


def test_redirect_count_at_limit_is_allowed(http_server) -> None:
    policy = FetchPolicy(allow_loopback=True, max_redirects=3)
    assert fetch_image_bytes(http_server.url("/chain/3"), policy=policy).redirects
    assert reason_of(http_server.url("/chain/4"), policy) == "too_many_redirects"


@pytest.mark.parametrize(
    "target",
    [
        "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
        "http://10.0.0.5/internal.jpg",
        "http://192.168.1.1/",
        "http://[fd00::1]/",
        "http://0xa9fea9fe/",
    ],
)
def test_redirect_to_internal_address_is_blocked(
    http_server, monkeypatch: pytest.MonkeyPatch, target: str
) -> None:
    connections = record_connections(monkeypatch)
    url = http_server.url("/redirect?to=" + target)
    assert reason_of(url, LOCAL) == "blocked_address"
    # Only the allowed first hop was ever connected to.
    assert connections == [("127.0.0.1", http_server.port)]


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_every_redirect_status_is_rechecked(http_server, status: int) -> None:
    url = http_server.url(f"/redirect?status={status}&to=http://169.254.169.254/")
    assert reason_of(url, LOCAL) == "blocked_address"


def test_redirect_to_mapped_loopback_is_blocked_even_when_loopback_allowed(http_server) -> None:
    target = f"http://[::ffff:127.0.0.1]:{http_server.port}/image.jpg"
    assert reason_of(http_server.url("/redirect?to=" + target), LOCAL) == "blocked_address"


@pytest.mark.parametrize(
    "target", ["file:///etc/passwd", "ftp://example.com/x.jpg", "gopher://127.0.0.1:6379/_INFO"]
)
def test_redirect_to_other_scheme_is_refused(http_server, target: str) -> None:
    assert reason_of(http_server.url("/redirect?to=" + target), LOCAL) == "bad_url"


def test_relative_redirect_resolves_against_current_url(http_server, photo_jpeg: bytes) -> None:
    result = fetch_image_bytes(http_server.url("/redirect?to=/image.jpg"), policy=LOCAL)
    assert result.data == photo_jpeg


# --- pinning: DNS rebinding and Host header -----------------------------------------------------


def test_connection_is_pinned_to_the_checked_address(
    http_server, monkeypatch: pytest.MonkeyPatch, photo_jpeg: bytes
) -> None:
    # First answer passes the check; any later lookup would point at the metadata service.
    resolver = fake_getaddrinfo({"rebind.test": ["127.0.0.1", "169.254.169.254"]})
    monkeypatch.setattr(socket, "getaddrinfo", resolver)
    connections = record_connections(monkeypatch)
    result = fetch_image_bytes(f"http://rebind.test:{http_server.port}/image.jpg", policy=LOCAL)
    assert result.data == photo_jpeg
    assert resolver.calls == {"rebind.test": 1}
    assert connections == [("127.0.0.1", http_server.port)]
    assert result.peer_address == "127.0.0.1"


def test_dns_rebinding_to_loopback_after_check_cannot_reach_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    resolver = fake_getaddrinfo({"rebind.example": [PUBLIC_IP, "127.0.0.1"]})
    monkeypatch.setattr(socket, "getaddrinfo", resolver)
    attempted: list[str] = []

    def create_connection(address: tuple[str, int], *args: Any, **kwargs: Any) -> socket.socket:
        attempted.append(address[0])
        raise ConnectionRefusedError("test network is offline")

    monkeypatch.setattr(socket, "create_connection", create_connection)
    assert reason_of("http://rebind.example/cat.jpg", STRICT) == "connection_error"
    assert attempted == [PUBLIC_IP]
    assert resolver.calls == {"rebind.example": 1}


def test_redirect_hop_is_resolved_and_checked_again(
    http_server, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The first host is fine; the redirect target's name resolves to a private address.
    resolver = fake_getaddrinfo({"start.test": ["127.0.0.1"], "inside.test": ["10.1.1.1"]})
    monkeypatch.setattr(socket, "getaddrinfo", resolver)
    url = f"http://start.test:{http_server.port}/redirect?to=http://inside.test/secret.jpg"
    assert reason_of(url, LOCAL) == "blocked_address"
    assert resolver.calls == {"start.test": 1, "inside.test": 1}


def test_host_header_names_the_original_host(http_server, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo({"cdn.test": ["127.0.0.1"]}))
    result = fetch_image_bytes(f"http://cdn.test:{http_server.port}/host", policy=LOCAL)
    assert result.data == f"cdn.test:{http_server.port}".encode()


def test_https_verifies_certificate_for_host_name_while_pinned(
    https_server, tls_material, monkeypatch: pytest.MonkeyPatch, photo_jpeg: bytes
) -> None:
    monkeypatch.setattr(
        socket, "getaddrinfo", fake_getaddrinfo({tls_material.hostname: ["127.0.0.1"]})
    )
    policy = FetchPolicy(allow_loopback=True, ca_file=tls_material.ca_file, total_timeout=10)
    url = f"https://{tls_material.hostname}:{https_server.port}/image.jpg"
    result = fetch_image_bytes(url, policy=policy)
    assert result.data == photo_jpeg
    assert result.peer_address == "127.0.0.1"


def test_https_with_certificate_for_another_name_is_refused(
    https_server, tls_material, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo({"other.test": ["127.0.0.1"]}))
    policy = FetchPolicy(allow_loopback=True, ca_file=tls_material.ca_file, total_timeout=10)
    assert reason_of(f"https://other.test:{https_server.port}/image.jpg", policy) == (
        "connection_error"
    )


def test_https_with_untrusted_ca_is_refused(
    https_server, tls_material, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        socket, "getaddrinfo", fake_getaddrinfo({tls_material.hostname: ["127.0.0.1"]})
    )
    url = f"https://{tls_material.hostname}:{https_server.port}/image.jpg"
    assert reason_of(url, LOCAL) == "connection_error"


def test_fetch_errors_expose_stable_reasons() -> None:
    reasons = {
        cls.reason
        for cls in (
            fetching.BlockedAddressError,
            fetching.BadUrlError,
            fetching.TooLargeError,
            fetching.FetchTimeoutError,
            fetching.TooManyRedirectsError,
            fetching.HttpStatusError,
            fetching.ConnectionFailedError,
        )
    }
    assert reasons == {
        "blocked_address",
        "bad_url",
        "too_large",
        "timeout",
        "too_many_redirects",
        "http_error",
        "connection_error",
    }


def test_ipv6_loopback_server_is_reachable_only_when_allowed(photo_jpeg: bytes) -> None:
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

        def do_GET(self) -> None:  # noqa: N802
            self.send_response(200)
            self.send_header("Content-Length", str(len(photo_jpeg)))
            self.end_headers()
            self.wfile.write(photo_jpeg)

    class Server6(ThreadingHTTPServer):
        address_family = socket.AF_INET6

    try:
        httpd = Server6(("::1", 0), Handler)
    except OSError:
        pytest.skip("no IPv6 loopback here")
    thread = threading.Thread(target=httpd.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        url = f"http://[::1]:{httpd.server_address[1]}/a.jpg"
        result = fetch_image_bytes(url, policy=LOCAL)
        assert result.data == photo_jpeg
        assert result.peer_address == "::1"
        assert reason_of(url, STRICT) == "blocked_address"
    finally:
        httpd.shutdown()
        httpd.server_close()

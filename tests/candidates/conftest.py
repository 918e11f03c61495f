"""Fixtures for the candidates tests: a real scripted HTTP(S) server on 127.0.0.1 and images
generated with Pillow or taken from the read-only ImageNet samples."""

from __future__ import annotations

import contextlib
import datetime
import io
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from PIL import Image

IMAGENET_SAMPLES = Path("/work/shared/data/imagenet-samples")


def jpeg_bytes(image: Image.Image, **save_args: object) -> bytes:
    out = io.BytesIO()
    image.save(out, format="JPEG", **save_args)
    return out.getvalue()


def encode(image: Image.Image, fmt: str, **save_args: object) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt, **save_args)
    return out.getvalue()


@pytest.fixture(scope="session")
def sample_paths() -> list[Path]:
    paths = sorted(IMAGENET_SAMPLES.glob("*.JPEG"))
    if len(paths) < 100:
        pytest.skip(f"ImageNet samples missing from {IMAGENET_SAMPLES}")
    return paths


@pytest.fixture(scope="session")
def photo_jpeg() -> bytes:
    """A real-looking 400 × 300 JPEG (gradient + shapes) that does not depend on the samples."""
    image = Image.linear_gradient("L").resize((400, 300)).convert("RGB")
    image.paste((200, 30, 30), (50, 50, 150, 200))
    image.paste((20, 20, 220), (250, 100, 380, 280))
    return jpeg_bytes(image, quality=90)


@dataclass
class ScriptedServer:
    """What a test needs from the server: its base URL and what it saw."""

    base_url: str
    port: int
    requests: list[dict[str, str]] = field(default_factory=list)

    def url(self, path: str) -> str:
        return self.base_url + path


def _make_handler(server_state: ScriptedServer, image: bytes) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib name
            pass

        def _send(self, status: int, body: bytes, content_type: str, **headers: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")
            for name, value in headers.items():
                self.send_header(name.replace("_", "-"), value)
            self.end_headers()
            self.wfile.write(body)

        def _redirect(self, location: str, status: int = 302) -> None:
            self._send(status, b"", "text/plain", Location=location)

        def do_GET(self) -> None:  # noqa: N802 - stdlib naming
            parts = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(parts.query).items()}
            server_state.requests.append(
                {
                    "path": self.path,
                    "host": self.headers.get("Host", ""),
                    "accept_encoding": self.headers.get("Accept-Encoding", ""),
                }
            )
            route = parts.path
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self._route(route, query)

        def _route(self, route: str, query: dict[str, str]) -> None:
            if route == "/image.jpg":
                self._send(200, image, "image/jpeg")
            elif route == "/html-as-jpeg":
                body = b"<!doctype html><html><body>Hotlinking forbidden</body></html>"
                self._send(200, body, "image/jpeg")
            elif route == "/host":
                self._send(200, self.headers.get("Host", "").encode(), "text/plain")
            elif route == "/loop":
                self._redirect("/loop")
            elif route == "/redirect":
                self._redirect(query["to"], int(query.get("status", "302")))
            elif route.startswith("/chain/"):
                remaining = int(route.rsplit("/", 1)[1])
                self._redirect(f"/chain/{remaining - 1}" if remaining > 1 else "/image.jpg")
            elif route == "/status":
                self._send(int(query["code"]), b"nope", "text/plain")
            elif route == "/big":
                # Declares a large body but we expect the client to hang up after the headers.
                self.send_response(200)
                self.send_header("Content-Type", "image/jpeg")
                self.send_header("Content-Length", str(50 * 1024 * 1024))
                self.end_headers()
                for _ in range(50 * 16):
                    self.wfile.write(b"\0" * 65536)
            elif route == "/big-no-length":
                # HTTP/1.0-style body delimited by connection close: no size to reject early.
                self.send_response(200)
                self.send_header("Content-Type", "image/jpeg")
                self.send_header("Connection", "close")
                self.end_headers()
                self.close_connection = True
                for _ in range(50 * 16):
                    self.wfile.write(b"\0" * 65536)
            elif route == "/big-chunked":
                self.send_response(200)
                self.send_header("Content-Type", "image/jpeg")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                chunk = b"\0" * 65536
                for _ in range(50 * 16):
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                self.wfile.write(b"0\r\n\r\n")
            elif route == "/no-length":
                self.send_response(200)
                self.send_header("Content-Type", "image/jpeg")
                self.send_header("Connection", "close")
                self.end_headers()
                self.close_connection = True
                self.wfile.write(image)
            elif route == "/short":
                self.send_response(200)
                self.send_header("Content-Type", "image/jpeg")
                self.send_header("Content-Length", str(len(image) + 1000))
                self.end_headers()
                self.wfile.write(image)
                self.close_connection = True
            elif route == "/trickle":
                # One byte per second: every single read succeeds, so only a wall-clock
                # deadline stops it.
                self.send_response(200)
                self.send_header("Content-Type", "image/jpeg")
                self.send_header("Content-Length", "600")
                self.end_headers()
                for _ in range(600):
                    self.wfile.write(b"\xff")
                    self.wfile.flush()
                    time.sleep(1)
            elif route == "/trickle-headers":
                self.wfile.write(b"HTTP/1.1 200 OK\r\n")
                for i in range(600):
                    self.wfile.write(b"X-Slow-%d: 1\r\n" % i)
                    self.wfile.flush()
                    time.sleep(0.5)
            else:
                self._send(404, b"not found", "text/plain")

    return Handler


def _serve(
    image: bytes, wrap: Callable[[ThreadingHTTPServer], None] | None = None, scheme: str = "http"
) -> Iterator[ScriptedServer]:
    state = ScriptedServer(base_url="", port=0)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(state, image))
    httpd.daemon_threads = True
    if wrap is not None:
        wrap(httpd)
    state.port = httpd.server_address[1]
    state.base_url = f"{scheme}://127.0.0.1:{state.port}"
    # A short poll interval keeps shutdown() (one per test) from costing half a second.
    thread = threading.Thread(target=httpd.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def http_server(photo_jpeg: bytes) -> Iterator[ScriptedServer]:
    yield from _serve(photo_jpeg)


@dataclass(frozen=True)
class TlsMaterial:
    ca_file: str
    cert_file: str
    key_file: str
    hostname: str


@pytest.fixture(scope="session")
def tls_material(tmp_path_factory: pytest.TempPathFactory) -> TlsMaterial:
    """A throwaway CA and a server certificate for images.test, made with `cryptography`."""
    crypto = pytest.importorskip("cryptography")
    del crypto
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "SynsetLab Test CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    hostname = "images.test"
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(hostname)]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    directory = tmp_path_factory.mktemp("tls")
    ca_file = directory / "ca.pem"
    cert_file = directory / "server.pem"
    key_file = directory / "server.key"
    ca_file.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return TlsMaterial(str(ca_file), str(cert_file), str(key_file), hostname)


@pytest.fixture
def https_server(photo_jpeg: bytes, tls_material: TlsMaterial) -> Iterator[ScriptedServer]:
    def wrap(httpd: ThreadingHTTPServer) -> None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(tls_material.cert_file, tls_material.key_file)
        httpd.socket = context.wrap_socket(httpd.socket, server_side=True)

    yield from _serve(photo_jpeg, wrap, scheme="https")

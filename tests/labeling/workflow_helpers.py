"""Helpers for the project workflow tests: a static HTTP server on 127.0.0.1 over real ImageNet
sample photos, and URL lists naming them."""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

SAMPLES = Path("/work/shared/data/imagenet-samples")


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib name
        pass


@contextlib.contextmanager
def photo_server(folder: Path = SAMPLES) -> Iterator[str]:
    """Serve ``folder`` over HTTP on 127.0.0.1; yields the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(folder))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def samples_of(wnids: set[str], n: int) -> list[Path]:
    """Up to ``n`` sample photos whose ImageNet class is one of ``wnids``."""
    return [p for p in sorted(SAMPLES.glob("*.JPEG")) if p.name[:9] in wnids][:n]


def url_list_csv(base_url: str, paths: list[Path], *, wnid_column: bool = True) -> bytes:
    lines = ["url,wnid" if wnid_column else "url"]
    for path in paths:
        url = f"{base_url}/{path.name}"
        lines.append(f"{url},{path.name[:9]}" if wnid_column else url)
    return ("\n".join(lines) + "\n").encode()

"""A local HTTP server on 127.0.0.1 playing the crowd platform's part in browser tests: MTurk's
worker page (frames our HIT page, receives /mturk/externalSubmit) and a panel's completion URL."""

from __future__ import annotations

import html
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit


class PlatformStandIn:
    def __init__(self, hit_page_url: str = ""):
        self.hit_page_url = hit_page_url
        self.submissions: list[dict[str, str]] = []
        self.completions: list[dict[str, str]] = []
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output quiet
                pass

            def _send(self, body: str, status: int = 200):
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):  # noqa: N802
                parts = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                if parts.path == "/hit":
                    # What MTurk's worker page does: frame the ExternalURL with the four
                    # parameters, turkSubmitTo being this origin.
                    params = {**query, "turkSubmitTo": standin.origin}
                    src = html.escape(f"{standin.hit_page_url}?{urlencode(params)}")
                    self._send(
                        "<!doctype html><title>Stand-in MTurk</title><h1>Stand-in MTurk</h1>"
                        f'<iframe id="hit-frame" src="{src}" width="1000" height="800"></iframe>'
                    )
                elif parts.path == "/complete":
                    standin.completions.append(query)
                    self._send("<!doctype html><title>Panel</title><p id='done'>Submission "
                               "complete</p>")  # fmt: skip
                else:
                    self._send("not found", 404)

            def do_POST(self):  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                if urlsplit(self.path).path == "/mturk/externalSubmit":
                    standin.submissions.append(form)
                    self._send("<!doctype html><title>Stand-in MTurk</title>"
                               "<p id='thanks'>HIT submitted</p>")  # fmt: skip
                else:
                    self._send("not found", 404)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> PlatformStandIn:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

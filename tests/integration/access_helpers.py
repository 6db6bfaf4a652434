"""What every access test shares: protected bytes, and the one assertion about them.

Every protected file these tests serve is made of PROTECTED, which carries the
session's canary (tests/leakcheck.py); the suite-wide check sees every answer the test
process receives. `refused()` is called on every answer to a request that was not
allowed, whatever the mechanism, and asserts the status and, through the same check
with the request marked as not allowed, that not one protected byte sequence reaches
that client: not in the body, not in a header.
"""

from __future__ import annotations

import http.client
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import leakcheck

PROTECTED = leakcheck.protected(1160)


def protected_file(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(PROTECTED)
    return path


def refused(resp: http.client.HTTPResponse, body: bytes, status: int) -> None:
    """The answer to a request that was not allowed: the status, and no protected byte."""
    assert resp.status == status, (resp.status, body[:200])
    leakcheck.check_answer(resp.status, resp.getheaders(), body, allowed=False)


Handler = Callable[[BaseHTTPRequestHandler], tuple[int, list[tuple[str, str]], bytes]]


@contextmanager
def http_backend(handler: Handler) -> Iterator[tuple[int, list[dict[str, str]]]]:
    """A threaded HTTP/1.1 backend on 127.0.0.1 answering with `handler`; yields its
    port and the fields of every request it got."""
    seen: list[dict[str, str]] = []

    class H(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:  # noqa: N802 (the stdlib's spelling)
            seen.append({k.lower(): v for k, v in self.headers.items()} | {":path": self.path})
            status, headers, body = handler(self)
            self.send_response(status)
            for name, value in headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), H)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], seen
    finally:
        server.shutdown()
        server.server_close()

"""The example app of README "Deploy with git push": a standard-library HTTP server.

It answers `/` with its version, the release it runs in (FRONTDESK_RELEASE, set by the
deploy), a config var (GREETING, `frontdesk config:set GREETING=...`) and what the
release command wrote (migrate.py), and `/healthz` with "ok" for frontdesk's checks.
frontdesk gives each instance its own $PORT.
"""

from __future__ import annotations

import os
import signal
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

VERSION = "v1"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive with frontdesk's connection pool

    def do_GET(self) -> None:
        if self.path == "/healthz":
            body = "ok\n"
        else:
            migrated = Path("migrated.txt")
            body = (
                f"{VERSION} release={os.environ.get('FRONTDESK_RELEASE', '-')} "
                f"greeting={os.environ.get('GREETING', '-')} "
                f"migrated={migrated.read_text().strip() if migrated.exists() else '-'}\n"
            )
        data = body.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        pass  # frontdesk's access log has every request already


class Server(ThreadingHTTPServer):
    daemon_threads = True


def main() -> None:
    server = Server(("127.0.0.1", int(os.environ["PORT"])), Handler)
    # frontdesk drains an instance before it sends SIGTERM: nothing is in flight here.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"{VERSION} listening on port {os.environ['PORT']}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()

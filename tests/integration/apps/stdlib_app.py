"""A standard-library HTTP app (ThreadingHTTPServer) for the app supervision tests.

Listens on 127.0.0.1:$PORT, or on the Unix socket $FRONTDESK_SOCKET. GET answers
"INSTANCE VERSION pid=PID" (VERSION from $APP_VERSION); POST echoes the body's
length and a digest of it; /healthz answers "ok". $APP_START_DELAY (seconds) delays
the bind, as an app that imports a lot would; $APP_EXIT_AT_START exits with that
status at once (a crash loop); $APP_READY_FILE gets the time it began accepting;
$APP_SPAM makes it print lines without pause.
It prints a line at start and one per POST.
"""

from __future__ import annotations

import hashlib
import os
import socket
import socketserver
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

NAME = os.environ.get("FRONTDESK_INSTANCE", "?")
VERSION = os.environ.get("APP_VERSION", "v1")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as real app servers

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _answer(self, body: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Instance", NAME)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        if self.path == "/healthz":
            self._answer(b"ok")
            return
        self._answer(f"{NAME} {VERSION} pid={os.getpid()}".encode())

    def do_POST(self) -> None:
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n)
        print(f"POST {self.path} {n} bytes", flush=True)
        self._answer(f"{NAME} {VERSION} {n} {hashlib.sha256(body).hexdigest()}".encode())


class UnixServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


class UnixHandler(Handler):
    def address_string(self) -> str:
        return "unix"


def _spam() -> None:
    line = "x" * 200
    n = 0
    while True:
        n += 1
        print(f"{n} {line}", flush=True)


def main() -> int:
    code = os.environ.get("APP_EXIT_AT_START")
    if code:
        print(f"{NAME}: failing at start on purpose (status {code})", flush=True)
        return int(code)
    time.sleep(float(os.environ.get("APP_START_DELAY", "0")))
    path = os.environ.get("FRONTDESK_SOCKET")
    server: socketserver.BaseServer
    if path:
        server = UnixServer(path, UnixHandler)
        where = f"unix:{path}"
    else:
        ThreadingHTTPServer.daemon_threads = True
        ThreadingHTTPServer.address_family = socket.AF_INET
        server = ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler)
        where = f"port {os.environ['PORT']}"
    print(f"{NAME} {VERSION} listening on {where}", flush=True)
    if os.environ.get("APP_SPAM"):  # floods its output: frontdesk must not stall on it
        threading.Thread(target=_spam, daemon=True).start()
    ready_file = os.environ.get("APP_READY_FILE")
    if ready_file:  # when it began accepting, for the time-to-first-200 test
        with open(ready_file, "a") as f:
            f.write(f"{time.time()}\n")
    try:
        server.serve_forever()
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

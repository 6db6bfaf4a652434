"""Shared fixtures: a real frontdesk server in a subprocess, and a raw-socket HTTP client.

`server(routes, **server_overrides)` (function scope) and `module_server(...)` (module
scope, for tests that only read from one config) start
`python -m frontdesk serve -c FILE` on a free 127.0.0.1 port and return a `Server`.
The config is written to a temporary directory; stdout and stderr go to files there.

`redis_server` (function scope) runs a real redis-server on a free loopback port, with
stop() and start() for the tests of a Redis that goes away and comes back.

`Server.connect()` gives a `RawConn`: bytes in, responses out, parsed by a small
independent parser (status line, headers, Content-Length / chunked / read-to-close
bodies), so framing can be tested byte for byte.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import leakcheck

# Generous, and only spent when a start fails: a shared 2-core CI machine can take 15 s
# to start Python, and a VM whose page cache the host has just dropped reads every import
# from disk again (seen on 2026-12-04: a frontdesk start over 30 s, Chromium's 145 s).
START_TIMEOUT = 90.0
STOP_TIMEOUT = 10.0
IO_TIMEOUT = 5.0


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Files with slow tests first, each file's tests in their own order: under
    `./dev test`'s two processes (whole files each) the long files then start early
    and the short ones fill in around them, instead of one long file ending alone."""
    slow_files = {item.path for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: item.path not in slow_files)


# ----------------------------------------------------------------------------- config


def toml_value(value: object) -> str:
    """A Python value as a TOML value (strings as JSON strings: valid TOML basic strings)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise TypeError(f"no TOML form for {value!r}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ----------------------------------------------------------------------- raw client


@dataclass
class Response:
    version: bytes
    status: int
    reason: bytes
    headers: list[tuple[bytes, bytes]]
    body: bytes
    raw_head: bytes = b""
    trailers: list[tuple[bytes, bytes]] = field(default_factory=list)

    def header(self, name: str) -> str | None:
        """First value of a header (case-insensitive name), decoded as latin-1."""
        want = name.lower().encode("latin-1")
        for k, v in self.headers:
            if k.lower() == want:
                return v.decode("latin-1")
        return None

    def header_all(self, name: str) -> list[str]:
        want = name.lower().encode("latin-1")
        return [v.decode("latin-1") for k, v in self.headers if k.lower() == want]

    @property
    def closes(self) -> bool:
        conn = (self.header("connection") or "").lower()
        return "close" in [t.strip() for t in conn.split(",")]


class Incomplete(Exception):
    """The bytes end before the response does."""


def parse_response(
    data: bytes, *, head: bool = False, at_eof: bool = False
) -> tuple[Response, int]:
    """`_parse_response`, then the suite's check that a refused request got no
    protected byte (tests/leakcheck.py)."""
    resp, used = _parse_response(data, head=head, at_eof=at_eof)
    leakcheck.check_answer(resp.status, [*resp.headers, *resp.trailers], resp.body)
    return resp, used


def _parse_response(
    data: bytes, *, head: bool = False, at_eof: bool = False
) -> tuple[Response, int]:
    """Parse one response at the start of `data`; return it and the bytes it used.

    Raises Incomplete when more bytes are needed. `head`: the request was HEAD (no
    body whatever the headers say). `at_eof`: the peer has closed, so a body
    delimited by close ends at the end of `data`.
    """
    end = data.find(b"\r\n\r\n")
    if end < 0:
        raise Incomplete
    raw_head = data[:end]
    lines = raw_head.split(b"\r\n")
    version, _, rest = lines[0].partition(b" ")
    code, _, reason = rest.partition(b" ")
    if not version.startswith(b"HTTP/") or len(code) != 3 or not code.isdigit():
        raise AssertionError(f"bad status line {lines[0]!r}")
    headers = []
    for line in lines[1:]:
        name, colon, value = line.partition(b":")
        if not colon or name != name.strip() or not name:
            raise AssertionError(f"bad header line {line!r}")
        headers.append((name, value.strip(b" \t")))
    resp = Response(version, int(code), reason, headers, b"", raw_head)
    pos = end + 4
    status = resp.status
    if head or status in (204, 304) or 100 <= status < 200:
        return resp, pos
    te = resp.header("transfer-encoding")
    cl = resp.header("content-length")
    if te is not None:
        assert te.lower() == "chunked", te
        body = bytearray()
        while True:
            eol = data.find(b"\r\n", pos)
            if eol < 0:
                raise Incomplete
            size = int(data[pos:eol].split(b";")[0], 16)
            pos = eol + 2
            if size == 0:
                break
            if len(data) < pos + size + 2:
                raise Incomplete
            body += data[pos : pos + size]
            assert data[pos + size : pos + size + 2] == b"\r\n"
            pos += size + 2
        while True:  # trailer section
            eol = data.find(b"\r\n", pos)
            if eol < 0:
                raise Incomplete
            line = data[pos:eol]
            pos = eol + 2
            if not line:
                break
            name, _, value = line.partition(b":")
            resp.trailers.append((name, value.strip()))
        resp.body = bytes(body)
        return resp, pos
    if cl is not None:
        n = int(cl)
        if len(data) < pos + n:
            raise Incomplete
        resp.body = data[pos : pos + n]
        return resp, pos + n
    if not at_eof:
        raise Incomplete
    resp.body = data[pos:]
    return resp, len(data)


class RawConn:
    """A client socket that sends exact bytes and parses what comes back."""

    def __init__(self, port: int, timeout: float = IO_TIMEOUT) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.eof = False

    def __enter__(self) -> RawConn:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.sock.close()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _recv(self, deadline: float) -> bool:
        """Read once into the buffer; False at EOF (or reset). TimeoutError past deadline."""
        if self.eof:
            return False
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("no complete response in time")
        self.sock.settimeout(left)
        try:
            chunk = self.sock.recv(65536)
        except (ConnectionResetError, BrokenPipeError):
            chunk = b""
        except TimeoutError:
            raise TimeoutError(f"timed out; received so far: {self.buf[:500]!r}") from None
        if not chunk:
            self.eof = True
            return False
        self.buf += chunk
        return True

    def read_response(self, *, head: bool = False, timeout: float = IO_TIMEOUT) -> Response:
        deadline = time.monotonic() + timeout
        while True:
            try:
                resp, used = parse_response(self.buf, head=head, at_eof=self.eof)
            except Incomplete:
                if not self._recv(deadline):
                    try:
                        resp, used = parse_response(self.buf, head=head, at_eof=True)
                    except Incomplete:
                        raise AssertionError(
                            f"connection closed mid-response; got {self.buf!r}"
                        ) from None
                    self.buf = self.buf[used:]
                    return resp
                continue
            self.buf = self.buf[used:]
            return resp

    def read_until_close(self, timeout: float = IO_TIMEOUT) -> bytes:
        """Everything until the server closes; TimeoutError if it does not in time."""
        deadline = time.monotonic() + timeout
        while self._recv(deadline):
            pass
        data, self.buf = self.buf, b""
        return data

    def responses_until_close(self, timeout: float = IO_TIMEOUT) -> list[Response]:
        """Every response the server sends before closing (bodies framed by length)."""
        data = self.read_until_close(timeout)
        out = []
        while data:
            resp, used = parse_response(data, at_eof=True)
            out.append(resp)
            data = data[used:]
        return out

    def closed_within(self, timeout: float) -> bool:
        """True when the server closes (EOF/reset) within `timeout` and sends nothing more."""
        try:
            extra = self.read_until_close(timeout)
        except TimeoutError:
            return False
        assert extra == b"", f"unexpected bytes before close: {extra!r}"
        return True

    def exchange(self, data: bytes, *, head: bool = False) -> Response:
        self.send(data)
        return self.read_response(head=head)


# ------------------------------------------------------------- protected bytes


@pytest.fixture(scope="session", autouse=True)
def _leak_check_everywhere() -> Iterator[None]:
    """Every socket of the test process goes through tests/leakcheck.py's check."""
    leakcheck.install()
    yield


@pytest.fixture(autouse=True)
def _no_protected_byte_leaked(_leak_check_everywhere: None) -> Iterator[None]:
    """A leak fails its test even when the test's own code swallowed the exception."""
    yield
    leaks = leakcheck.take_leaks()
    if leaks:
        pytest.fail("protected bytes reached a client that was not allowed:\n" + "\n".join(leaks))


# --------------------------------------------------------------------------- server


class Server:
    """A running `frontdesk serve` subprocess on 127.0.0.1:`port`."""

    def __init__(self, directory: Path, routes: str, overrides: dict[str, object]) -> None:
        self.dir = directory
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.config_path = directory / "frontdesk.toml"
        self.stdout_path = directory / "stdout.txt"
        self.stderr_path = directory / "stderr.txt"
        settings: dict[str, object] = {
            "listen": f"127.0.0.1:{self.port}",
            "workers": 1,
            "access_log": "off",
            "pid_file": str(directory / "frontdesk.pid"),
        }
        settings.update(overrides)
        lines = ["[server]"] + [f"{k} = {toml_value(v)}" for k, v in settings.items()]
        self.config_path.write_text("\n".join(lines) + "\n\n" + routes.strip() + "\n")
        self._out = open(self.stdout_path, "wb")
        self._err = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "frontdesk", "serve", "-c", str(self.config_path)],
            stdin=subprocess.DEVNULL,
            stdout=self._out,
            stderr=self._err,
            env={k: v for k, v in os.environ.items() if k != "PORT"},
        )

    def stdout_text(self) -> str:
        return self.stdout_path.read_text(errors="replace")

    def stderr_text(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def wait_ready(self, timeout: float = START_TIMEOUT) -> None:
        """Until an HTTP request gets a response (any status) or the process dies."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"frontdesk exited with {self.proc.returncode}:\n{self.stderr_text()}"
                )
            try:
                with RawConn(self.port, timeout=1.0) as c:
                    c.send(b"GET /__ready__ HTTP/1.1\r\nHost: ready\r\nConnection: close\r\n\r\n")
                    c.read_response(timeout=1.0)
                return
            except (OSError, AssertionError, TimeoutError):
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"frontdesk not answering after {timeout}s:\n{self.stderr_text()}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._out.close()
        self._err.close()

    def cli(self, command: str, *args: str) -> subprocess.CompletedProcess[str]:
        """`frontdesk COMMAND -c CONFIG ARGS` against this server."""
        return subprocess.run(
            [sys.executable, "-m", "frontdesk", command, "-c", str(self.config_path), *args],
            capture_output=True,
            text=True,
            timeout=30,
        )

    # ---- clients

    def connect(self, timeout: float = IO_TIMEOUT) -> RawConn:
        return RawConn(self.port, timeout)

    def http(self, timeout: float = IO_TIMEOUT) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def get(
        self, path: str, method: str = "GET", headers: dict[str, str] | None = None
    ) -> tuple[http.client.HTTPResponse, bytes]:
        """One request on a fresh http.client connection: (response, body)."""
        conn = self.http()
        try:
            conn.request(method, path, headers=headers or {})
            resp = conn.getresponse()
            return resp, resp.read()
        finally:
            conn.close()


ServerFactory = Callable[..., Server]


def _factory(make_dir: Callable[[], Path]) -> tuple[ServerFactory, list[Server]]:
    started: list[Server] = []

    def start(routes: str = "", **server_overrides: object) -> Server:
        srv = Server(make_dir(), routes, server_overrides)
        started.append(srv)
        srv.wait_ready()
        return srv

    return start, started


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerFactory]:
    """Factory: `server(routes_toml, **server_keys)` → a running Server, stopped at teardown."""
    n = iter(range(1_000_000))
    start, started = _factory(lambda: _mkdir(tmp_path / f"srv{next(n)}"))
    yield start
    for srv in started:
        srv.stop()


@pytest.fixture(scope="module")
def module_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerFactory]:
    """As `server`, but servers live for the whole test module."""
    start, started = _factory(lambda: tmp_path_factory.mktemp("srv"))
    yield start
    for srv in started:
        srv.stop()


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True)
    return path


# --------------------------------------------------------------------------- redis


class RedisServer:
    """A redis-server process on 127.0.0.1:port, without persistence."""

    def __init__(self, binary: str, workdir: Path) -> None:
        self.binary = binary
        self.workdir = workdir
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        argv = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1"]
        argv += ["--save", "", "--appendonly", "no", "--dir", str(self.workdir)]
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            if self.proc.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self.proc.returncode}")
            time.sleep(0.02)
        raise RuntimeError("redis-server did not answer PING")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(STOP_TIMEOUT)
        self.proc = None


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A running redis-server (Debian's package; `./dev test` installs it)."""
    binary = shutil.which("redis-server") or shutil.which("redis-server", path="/usr/bin")
    if binary is None:
        # A failure, not a skip: a test that silently does not run proves nothing.
        pytest.fail("redis-server is not installed (./dev test installs it)")
    srv = RedisServer(binary, tmp_path)
    srv.start()
    yield srv
    srv.stop()

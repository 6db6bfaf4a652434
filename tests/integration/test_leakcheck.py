"""The suite's leak check (tests/leakcheck.py) fires: deliberately leaking fake answers,
read by each kind of client the tests use, are caught; an allowed answer is not."""

from __future__ import annotations

import asyncio
import http.client
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from proc_helpers import read_response

import leakcheck

SECRET = leakcheck.protected(300)


@pytest.fixture
def raw_conn(request: pytest.FixtureRequest) -> Any:
    """tests/conftest.py's RawConn (a conftest is not imported by name: several exist)."""
    root = Path(leakcheck.__file__).with_name("conftest.py")
    for plugin in request.config.pluginmanager.get_plugins():
        if getattr(plugin, "__file__", None) == str(root):
            return plugin.RawConn
    raise AssertionError("tests/conftest.py is not loaded")


def answer(status: int, body: bytes, headers: str = "") -> bytes:
    return f"HTTP/1.1 {status} X\r\nContent-Length: {len(body)}\r\n{headers}\r\n".encode() + body


@contextmanager
def fake(*chunks: bytes, pause: float = 0.0) -> Iterator[int]:
    """A server that, to each connection, reads a request head and sends `chunks`
    (with `pause` seconds between them: separate TCP segments), then closes."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def run() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                data = b""
                while b"\r\n\r\n" not in data:
                    got = conn.recv(4096)
                    if not got:
                        break
                    data += got
                for chunk in chunks:
                    conn.sendall(chunk)
                    time.sleep(pause)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield port
    finally:
        listener.shutdown(socket.SHUT_RDWR)  # wakes accept()
        listener.close()
        thread.join(5)


def fetch(port: int) -> bytes:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", "/")
        return conn.getresponse().read()
    finally:
        conn.close()


@contextmanager
def caught() -> Iterator[None]:
    """The block must raise Leak, and leave exactly one record (cleared here, so the
    autouse check does not fail this test for the leak it made on purpose)."""
    leakcheck.take_leaks()
    with pytest.raises(leakcheck.Leak):
        yield
    assert len(leakcheck.take_leaks()) == 1


def test_the_check_is_installed_for_the_whole_session() -> None:
    assert leakcheck.installed()
    assert len(leakcheck.CANARY) > 20 and leakcheck.CANARY.encode() in SECRET


@pytest.mark.parametrize("status", sorted(leakcheck.REFUSED))
def test_http_client_reading_a_refusal_that_leaks(status: int) -> None:
    with fake(answer(status, SECRET)) as port, caught():
        fetch(port)


def test_raw_socket_and_a_canary_split_across_segments() -> None:
    whole = answer(403, SECRET)
    cut = whole.index(leakcheck.CANARY.encode()) + 5
    with fake(whole[:cut], whole[cut:], pause=0.05) as port, caught():
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            while s.recv(7):  # small reads: the canary arrives in pieces
                pass


def test_a_leak_in_a_header_and_the_shared_parsers(raw_conn: Any) -> None:
    leaky = answer(401, b"no", f"X-Debug: {leakcheck.CANARY}\r\n")
    with fake(leaky) as port, caught():
        with raw_conn(port) as c:
            c.exchange(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    with fake(answer(429, SECRET)) as port, caught():
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            read_response(s)
    with caught():  # the parser alone, on bytes no socket of ours received
        leakcheck.check_answer(404, [], SECRET)


def test_urllib_and_asyncio_clients() -> None:
    with fake(answer(410, SECRET)) as port, caught():
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5).read()
        except urllib.error.HTTPError as err:
            err.read()
            err.close()

    async def get(port: int) -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        try:
            return await reader.read()
        finally:
            writer.close()

    with fake(answer(403, SECRET)) as port:
        leakcheck.take_leaks()
        # asyncio's transport catches what recv raised and closes the connection: the
        # record is what makes the test fail.
        try:
            asyncio.run(get(port))
        except leakcheck.Leak:
            pass
        assert len(leakcheck.take_leaks()) == 1


def test_a_swallowed_leak_is_still_recorded() -> None:
    leakcheck.take_leaks()
    with fake(answer(403, SECRET)) as port:
        try:
            fetch(port)
        except AssertionError:
            pass  # what a careless retry loop does
    leaks = leakcheck.take_leaks()
    assert len(leaks) == 1 and "403" in leaks[0]


def test_allowed_answers_pass_and_unauthorised_requests_are_checked_whatever_the_status(
    raw_conn: Any,
) -> None:
    # A refusal, then on the same connection an allowed answer with protected bytes.
    with fake(answer(404, b"nope") + answer(200, SECRET)) as port:
        with raw_conn(port) as c:
            c.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            assert c.read_response().status == 404
            assert c.read_response().body == SECRET
        with caught(), leakcheck.unauthorised():
            fetch(port)
    assert leakcheck.take_leaks() == []


def test_answers_read_by_another_process() -> None:
    with fake(answer(403, SECRET)) as port:
        done = subprocess.run(
            [sys.executable, "-c", _FETCH, str(port)], capture_output=True, timeout=30
        )
    assert leakcheck.CANARY.encode() in done.stdout  # the child saw it; the check did not
    with caught():
        leakcheck.check_stream(done.stdout, "a child's output")


_FETCH = """
import socket, sys, os
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"GET / HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n")
while data := s.recv(65536):
    os.write(1, data)
"""

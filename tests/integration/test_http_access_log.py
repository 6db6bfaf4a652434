"""Real-socket tests: the access log (file destination, combined and json formats).

Lines are written in batches on the worker's tick, so tests poll the file briefly.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest

ROUTES = """
[[route]]
match = { exact = "/hello" }
respond = { body = "hello" }
"""

COMBINED = re.compile(
    r"(?P<peer>\S+) - - \[(?P<time>\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4})\] "
    r'"(?P<request>[^"]*)" (?P<status>\d{3}) (?P<size>\d+) "(?P<referer>[^"]*)" '
    r'"(?P<ua>[^"]*)"\Z'
)


def log_lines(path: Path, marker: str, count: int = 1, timeout: float = 3.0) -> list[str]:
    """Lines of the log containing `marker`, once at least `count` are there."""
    deadline = time.monotonic() + timeout
    lines: list[str] = []
    while time.monotonic() < deadline:
        if path.exists():
            lines = [ln for ln in path.read_text().splitlines() if marker in ln]
            if len(lines) >= count:
                return lines
        time.sleep(0.05)
    raise AssertionError(f"{len(lines)} of {count} lines with {marker!r} in {path}")


@pytest.fixture(scope="module")
def combined(module_server, tmp_path_factory):
    log = tmp_path_factory.mktemp("log") / "access.log"
    return module_server(ROUTES, access_log=str(log)), log


@pytest.fixture(scope="module")
def json_log(module_server, tmp_path_factory):
    log = tmp_path_factory.mktemp("log") / "access.json"
    return module_server(ROUTES, access_log=str(log), access_log_format="json"), log


def send(srv, raw: bytes, n: int = 1, head: bool = False):
    with srv.connect() as c:
        c.send(raw)
        return [c.read_response(head=head) for _ in range(n)]


def test_combined_format_line(combined):
    srv, log = combined
    send(
        srv,
        b"GET /hello?marker=combined1 HTTP/1.1\r\nHost: x\r\n"
        b"User-Agent: pytest-agent/1.0\r\nReferer: http://ref.test/p\r\n\r\n",
    )
    (line,) = log_lines(log, "marker=combined1")
    m = COMBINED.match(line)
    assert m, line
    assert m["peer"] == "127.0.0.1"
    assert m["request"] == "GET /hello?marker=combined1 HTTP/1.1"
    assert (m["status"], m["size"]) == ("200", "5")
    assert m["referer"] == "http://ref.test/p"
    assert m["ua"] == "pytest-agent/1.0"


def test_combined_log_written_within_a_second(combined):
    srv, log = combined
    start = time.monotonic()
    send(srv, b"GET /hello?marker=fast HTTP/1.1\r\nHost: x\r\n\r\n")
    log_lines(log, "marker=fast", timeout=1.5)
    assert time.monotonic() - start < 1.5


def test_every_pipelined_request_is_logged(combined):
    srv, log = combined
    reqs = (
        b"".join(b"GET /hello?marker=pipe%d HTTP/1.1\r\nHost: x\r\n\r\n" % i for i in range(5))
        + b"HEAD /hello?marker=pipe-head HTTP/1.1\r\nHost: x\r\n\r\n"
    )
    with srv.connect() as c:
        c.send(reqs)
        for _ in range(5):
            c.read_response()
        c.read_response(head=True)
    lines = log_lines(log, "marker=pipe", count=6)
    assert len(lines) == 6
    head = [ln for ln in lines if "pipe-head" in ln]
    assert head and COMBINED.match(head[0])["request"].startswith("HEAD ")  # type: ignore[index]


def test_other_statuses_are_logged(combined):
    srv, log = combined
    send(srv, b"GET /missing?marker=404 HTTP/1.1\r\nHost: x\r\n\r\n")
    (line,) = log_lines(log, "marker=404")
    assert COMBINED.match(line)["status"] == "404"  # type: ignore[index]
    send(srv, b"GET /hello?marker=400 HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n")
    (line,) = log_lines(log, "marker=400")
    assert COMBINED.match(line)["status"] == "400"  # type: ignore[index]


def test_combined_escapes_quotes_and_controls(combined):
    """No log injection: quotes, backslashes and control bytes in the request are escaped,
    so every request stays one parseable line. (llhttp refuses most controls in fields;
    a tab inside a field value is valid and must still be escaped.)"""
    srv, log = combined
    ua = b'evil" "injected \\ \xff\tx'
    send(
        srv,
        b'GET /hello?marker=inject"x HTTP/1.1\r\nHost: x\r\nUser-Agent: ' + ua + b"\r\n"
        b"Referer: a\tb\r\n\r\n",
    )
    (line,) = log_lines(log, "marker=inject")
    m = COMBINED.match(line)
    assert m, line
    assert '"' not in m["request"] and '"' not in m["ua"]
    assert not any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in line), repr(line)
    assert m["ua"] == "evil\\x22 \\x22injected \\x5C \\xFF\\x09x"
    assert m["referer"] == "a\\x09b"
    assert "\\x22" in m["request"]


def test_combined_no_newline_injection_through_target(combined):
    srv, log = combined
    # %0A stays percent-encoded in the log (the raw target is logged, not the decoded path)
    send(srv, b"GET /hello?marker=nl%0A127.0.0.1%20-%20-%20fake HTTP/1.1\r\nHost: x\r\n\r\n")
    lines = log_lines(log, "marker=nl")
    assert len(lines) == 1
    assert all(not ln.startswith("127.0.0.1 - - fake") for ln in log.read_text().splitlines())


def test_json_format_lines_parse(json_log):
    srv, log = json_log
    send(
        srv,
        b'GET /hello?marker=json1 HTTP/1.1\r\nHost: x\r\nUser-Agent: ua/2 "q" \tz\r\n\r\n',
    )
    (line,) = log_lines(log, "marker=json1")
    rec = json.loads(line)
    assert rec["method"] == "GET"
    assert rec["uri"] == "/hello?marker=json1"
    assert rec["protocol"] == "HTTP/1.1"
    assert rec["status"] == 200 and rec["bytes"] == 5
    assert rec["remote_addr"] == "127.0.0.1"
    assert rec["user_agent"] == 'ua/2 "q" \tz'
    assert re.fullmatch(r"\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4}", rec["time"])


def test_json_every_line_is_one_object(json_log):
    srv, log = json_log
    with srv.connect() as c:
        c.send(
            b"".join(
                b"GET /hello?marker=jmany%d HTTP/1.1\r\nHost: x\r\nUser-Agent: a\xffb\r\n\r\n" % i
                for i in range(3)
            )
        )
        for _ in range(3):
            c.read_response()
    log_lines(log, "marker=jmany", count=3)
    for line in log.read_text().splitlines():
        assert isinstance(json.loads(line), dict), line

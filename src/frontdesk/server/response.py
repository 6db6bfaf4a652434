"""Pre-serialised responses: the bytes of a status line and header block built once.

The hot path adds only the Date line (cached per second), an optional Connection line
and the body. Header names and values are validated when the config is loaded, so
nothing here re-checks them per request.
"""

from __future__ import annotations

from collections.abc import Iterable
from http import HTTPStatus

CONN_CLOSE = b"Connection: close\r\n"
CONN_KEEP_ALIVE = b"Connection: keep-alive\r\n"  # only for HTTP/1.0 clients that asked
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


# RFC 9110 §15 renamed a few reason phrases; Python 3.11's HTTPStatus has the old ones.
_RFC9110_REASONS = {
    413: "Content Too Large",
    414: "URI Too Long",
    416: "Range Not Satisfiable",
    422: "Unprocessable Content",
}


def reason(status: int) -> str:
    if status in _RFC9110_REASONS:
        return _RFC9110_REASONS[status]
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def _format_status_line(status: int) -> bytes:
    # RFC 9112 §4: status-line = HTTP-version SP status-code SP [ reason-phrase ]
    # We always speak HTTP/1.1, also to 1.0 clients (RFC 9110 §6.2).
    return f"HTTP/1.1 {status} {reason(status)}\r\n".encode("latin-1")


# Built once: streamed answers (static, proxy) look their status line up per response.
_STATUS_LINES = {int(s): _format_status_line(s) for s in HTTPStatus}


def status_line(status: int) -> bytes:
    line = _STATUS_LINES.get(status)
    return line if line is not None else _format_status_line(status)


def header_block(headers: Iterable[tuple[str, str]]) -> bytes:
    return b"".join(f"{k}: {v}\r\n".encode("latin-1") for k, v in headers)


# Status codes whose responses never carry content (RFC 9110 §6.4.1, §15.3.5, §15.4.5).
NO_BODY_STATUS = frozenset({204, 304}) | frozenset(range(100, 200))


class FixedResponse:
    """A whole response known in advance, split where per-request lines go in.

    `head` holds the status line and every header but Date and Connection; the
    protocol appends those, then CRLF, then `body` (omitted for HEAD). For the common
    case (HTTP/1.1, keep-alive, not HEAD) the whole response is rendered once per
    second, when the Date line changes, and reused as one bytes object.
    """

    __slots__ = ("status", "head", "body", "close", "_date", "_rendered")

    def __init__(self, status: int, head: bytes, body: bytes, close: bool = False) -> None:
        self.status = status
        self.head = head
        self.body = body
        self.close = close  # always close the connection after this response
        self._date = b""
        self._rendered = b""

    def rendered(self, date_line: bytes) -> bytes:
        if date_line is not self._date:
            self._rendered = b"".join((self.head, date_line, b"\r\n", self.body))
            self._date = date_line
        return self._rendered

    def with_connection(self, date_line: bytes, connection: bytes, head_only: bool) -> bytes:
        """The response with a Connection line (b"" for none); no body if `head_only`."""
        body = b"" if head_only else self.body
        return b"".join((self.head, date_line, connection, b"\r\n", body))

    @classmethod
    def build(
        cls,
        status: int,
        headers: Iterable[tuple[str, str]],
        body: bytes,
        *,
        server: str,
        close: bool = False,
    ) -> FixedResponse:
        hdrs = [(k, v) for k, v in headers if k.lower() not in ("content-length", "date")]
        if server:
            hdrs.insert(0, ("Server", server))
        if status in NO_BODY_STATUS:
            body = b""
        # RFC 9110 §8.6: no Content-Length in 1xx and 204 responses.
        if status >= 200 and status != 204:
            hdrs.append(("Content-Length", str(len(body))))
        return cls(status, status_line(status) + header_block(hdrs), body, close)


def error_response(status: int, message: str, *, server: str, close: bool = True) -> FixedResponse:
    """A short plain-text answer to bad input; it names no internals."""
    body = f"{status} {reason(status)}: {message}\n".encode()
    headers = [("Content-Type", "text/plain; charset=utf-8")]
    if status == 405:
        headers.append(("Allow", "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"))
    return FixedResponse.build(status, headers, body, server=server, close=close)

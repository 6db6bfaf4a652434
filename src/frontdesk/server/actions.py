"""Route actions: what a matched route does with a request.

An action either answers from memory (`respond()` returns a FixedResponse; the
protocol writes it with no further Python work) or streams (`streaming = True`;
`stream()` reads the body and writes the response, with backpressure both ways).
Static files and the proxy plug in as streaming actions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from frontdesk.server.response import FixedResponse

if TYPE_CHECKING:
    from frontdesk.server.clock import Clock
    from frontdesk.server.connection import Exchange
    from frontdesk.server.exchange import BodyReader, ResponseWriter
    from frontdesk.server.request import Request


class _Answered:
    def __repr__(self) -> str:
        return "ANSWERED"


ANSWERED: Any = _Answered()
"""What `Action.begin` returns when it has written the whole response already."""


class Action:
    """Base of route actions."""

    streaming = False
    name = ""
    # The route's label in metrics and the access log (set by build_context), and the
    # answers this action gave in the protocol's fast lane (no Request built), counted
    # here because that lane has no other per-request hook (admin/metrics.py):
    # `fast_answers` all of them (folded in by runs, Connection.end_run), `fast_head`
    # the plain HEADs and `fast_other` the answers with another status than the
    # plain one (a 304, a 206...), which hot() counts itself. The rest are plain GETs.
    label = "-"
    fast_answers = 0
    fast_head = 0
    # By (method, status): a one-item list, the count, so that a memo of an answer can
    # hold its own counter and count it without a lookup (static/action.py).
    fast_other: dict[tuple[bytes, int], list[int]] | None = None

    def fast_cell(self, method: bytes, status: int) -> list[int]:
        """The counter of the fast lane's answers with this method and status."""
        other = self.fast_other
        if other is None:
            other = self.fast_other = {}
        key = (method, status)
        cell = other.get(key)
        if cell is None:
            cell = other[key] = [0]
        return cell

    def count_fast(self, method: bytes, status: int) -> None:
        """Count a fast-lane answer whose status is not the action's plain one."""
        self.fast_cell(method, status)[0] += 1

    def fast_counts(self, live: int) -> list[tuple[str, int, int]]:
        """(method, status, count) of the fast lane's answers; `live` adds the runs
        of open connections, not folded in yet. `fast_other` may count a plain status
        too (a HEAD, or a GET's 200 after a failed If-None-Match): merged here."""
        plain = self.fixed.status if self.fixed is not None else 200
        other = {key: cell[0] for key, cell in (self.fast_other or {}).items()}
        get = self.fast_answers + live - self.fast_head - sum(other.values())
        counts = {(b"GET", plain): get, (b"HEAD", plain): self.fast_head}
        for key, n in other.items():
            counts[key] = counts.get(key, 0) + n
        return [(m.decode("latin-1"), status, n) for (m, status), n in counts.items()]

    # An action whose answer never varies sets this: the protocol then skips the call.
    fixed: FixedResponse | None = None
    # The largest request body this action takes; None: the server's max_body_size.
    max_body_size: int | None = None
    # Whether the action relays an Upgrade request (the proxy); for other actions the
    # Upgrade is ignored and the connection closes after the answer.
    tunnels = False
    # An action that can answer some requests from memory before a Request is even
    # built (cached static files) sets this and implements hot().
    hot_lane = False

    def respond(self, req: Request) -> FixedResponse | None:
        """The answer from memory; None (non-streaming actions only) means "stream
        this one": the protocol then runs stream() as for a streaming action."""
        raise NotImplementedError

    def hot(
        self,
        method: bytes,
        url: bytes,
        path: str,
        raw_host: bytes | None,
        headers: list[tuple[bytes, bytes]],
        clock: Clock,
    ) -> bytes | tuple[bytes, int, int] | None:
        """The whole rendered response (HTTP/1.1 keep-alive), or (head, fd, size) for a
        head followed by a file's first `size` bytes, or None to take the normal path.
        Called only with no access log to feed and nothing in flight."""
        return None

    async def stream(self, req: Request, body: BodyReader | None, out: ResponseWriter) -> None:
        raise NotImplementedError

    def begin(self, req: Request, out: ResponseWriter) -> Exchange | None:
        """Optionally start a body-less streaming exchange without a Task: return an
        object whose `cancel()` abandons it, and call `conn.exchange_done(req, out)`
        once the response is written; or ANSWERED when the whole response has been
        written already. None: run `stream()` as a Task instead."""
        return None


class Respond(Action):
    """A fixed answer (health endpoints, maintenance pages): bytes built at load time."""

    def __init__(self, response: FixedResponse) -> None:
        self.fixed = response

    def respond(self, req: Request) -> FixedResponse:
        return self.fixed  # type: ignore[return-value]


# Characters left as they are when a decoded path goes back into a Location URI
# (RFC 3986 §3.3 pchar plus "/"); everything else is percent-encoded again, so a
# decoded CR/LF can never split the header.
_PATH_SAFE = "/:@!$&'()*+,;=-._~"


class Redirect(Action):
    """A redirect whose Location is a template over {host} {path} {query} {uri}."""

    PLACEHOLDERS = ("host", "path", "query", "uri")

    def __init__(self, status: int, template: str, server: str) -> None:
        self.status = status
        self.server = server
        self.parts = _compile_template(template)

    def location(self, req: Request) -> str:
        out: list[str] = []
        for literal, field in self.parts:
            out.append(literal)
            if field == "host":
                out.append(req.host)
            elif field == "path":
                out.append(quote(req.path, safe=_PATH_SAFE))
            elif field == "query":
                out.append(req.query)
            elif field == "uri":
                # The target as the client sent it: llhttp has checked it is printable
                # ASCII. An absolute-form target contributes only its path and query.
                uri = req.target.decode("ascii")
                if not uri.startswith("/"):
                    uri = quote(req.path, safe=_PATH_SAFE) + ("?" + req.query if req.query else "")
                out.append(uri)
        return "".join(out)

    def respond(self, req: Request) -> FixedResponse:
        location = self.location(req)
        body = f'<a href="{location}">{self.status} redirect</a>\n'.encode()
        return FixedResponse.build(
            self.status,
            [("Location", location), ("Content-Type", "text/html; charset=utf-8")],
            body,
            server=self.server,
        )


def _compile_template(template: str) -> list[tuple[str, str]]:
    """Split "https://{host}{uri}" into [("https://", "host"), ("", "uri")]."""
    parts: list[tuple[str, str]] = []
    literal: list[str] = []
    i = 0
    while i < len(template):
        ch = template[i]
        if ch == "{":
            end = template.find("}", i)
            field = template[i + 1 : end] if end > 0 else ""
            if field in Redirect.PLACEHOLDERS:
                parts.append(("".join(literal), field))
                literal = []
                i = end + 1
                continue
        literal.append(ch)
        i += 1
    parts.append(("".join(literal), ""))
    return parts


class NotFound(Action):
    """The answer when no route matches."""

    def __init__(self, server: str) -> None:
        self.fixed = FixedResponse.build(
            404,
            [("Content-Type", "text/plain; charset=utf-8")],
            b"404 Not Found: no route matches this request\n",
            server=server,
        )

    def respond(self, req: Request) -> FixedResponse:
        return self.fixed  # type: ignore[return-value]

"""One exception hierarchy for frontdesk.

Foreign errors (httptools, OSError, pydantic) are translated into these at exactly one
boundary each: the parser adapter, the upstream connector, the config loader.
"""

from __future__ import annotations

from dataclasses import dataclass


class FrontdeskError(Exception):
    """Base of every error frontdesk raises on purpose."""


@dataclass(frozen=True)
class ConfigIssue:
    """One mistake in a config file: where it is and what is wrong."""

    file: str
    key: str  # dotted key path, e.g. "route[2].match.path"; "" for the whole file
    line: int | None  # 1-based line in `file`, when it could be located
    message: str

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return f"{where}: {self.key}: {self.message}" if self.key else f"{where}: {self.message}"


class ConfigError(FrontdeskError):
    """A config file that cannot be used; carries every issue found, not just the first."""

    def __init__(self, issues: list[ConfigIssue]) -> None:
        self.issues = issues
        super().__init__("\n".join(str(i) for i in issues))


class ProtocolError(FrontdeskError):
    """The client broke HTTP/1.1 framing or syntax; `status` is the answer to send.

    After a ProtocolError the connection is always closed: the framing is in doubt.
    """

    def __init__(self, status: int, reason: str) -> None:
        self.status = status
        self.reason = reason
        super().__init__(f"{status} {reason}")


class UpstreamError(FrontdeskError):
    """Talking to a backend failed; `status` is what the client is answered (502/504).

    Raised at two boundaries only (proxy/pool.py connecting, proxy/connection.py
    talking), where OSError, timeouts and parser errors become these. `sent` tells
    whether any of the request may have reached the backend.
    """

    status = 502
    reason = "bad gateway"

    def __init__(self, detail: str, *, sent: bool = False, stale: bool = False) -> None:
        self.detail = detail  # for the error log only: never sent to the client
        self.sent = sent
        # The connection closed before any response byte: on a reused keep-alive
        # connection that means the backend had closed it (not that it failed).
        self.stale = stale
        super().__init__(detail)


class UpstreamConnectError(UpstreamError):
    """The backend could not be connected to (refused, unreachable, reset on connect)."""

    reason = "backend unavailable"


class UpstreamTimeout(UpstreamError):
    """Connect, send or read took longer than the pool's timeout."""

    status = 504
    reason = "backend timed out"


class UpstreamProtocolError(UpstreamError):
    """The backend answered with something that is not a valid HTTP/1.1 response, or
    closed the connection before the response was complete."""

    reason = "invalid response from backend"


class UpstreamBusy(UpstreamError):
    """Every backend of the pool is at its connection cap and none freed up in time."""

    status = 503
    reason = "backends busy"

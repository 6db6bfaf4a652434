"""What the shell hands to the policy: a client request and an origin response.

Headers use the representation of fields.py: ``(name, value)`` byte pairs in received
order, names in any case. Times are seconds on the shell's wall clock (``time.time()``
in the shell; never read here).
"""

from __future__ import annotations

from dataclasses import dataclass

from .fields import Fields

DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True, slots=True)
class CacheRequest:
    """A request as the cache sees it.

    `host` is lower case without port (http/target.py parse_host); `port` is the
    port of the authority, None when absent. `path` and `query` are exactly what is
    sent to the origin (the key must describe what the origin is asked for).
    """

    method: bytes
    scheme: str
    host: str
    port: int | None
    path: str
    query: str
    headers: Fields

    @property
    def effective_port(self) -> int:
        """The port, or the scheme's default."""
        return self.port if self.port is not None else DEFAULT_PORTS.get(self.scheme, 80)


@dataclass(frozen=True, slots=True)
class OriginResponse:
    """A response from the origin, as received.

    `request_time` is when the request was sent, `response_time` when the response head
    was received (RFC 9111 §4.2.3). `body_length` is the number of content bytes
    received; `complete` whether the message ended as its framing said (§3.3).
    """

    status: int
    headers: Fields
    request_time: float
    response_time: float
    body_length: int = 0
    complete: bool = True

"""The control channel between the master and each worker.

One Unix socketpair per worker, carrying JSON objects, one per line, each with a
"type". Master → worker: "config" (first message, the validated config as JSON, and
"pools": the master's state of each balanced pool, by name), "pool" (one pool's new
state: {"pool": NAME, "state": balance.Pool.to_wire()}; active health, drain/disable,
members found by DNS), "checked" ({"pool", "since", "passed": [ids]}: the servers
that passed the active checks begun at "since", master/health.py), "stats" (a
request, with an "id"), "drain" (reload: stop accepting, finish long-lived connections
within "timeout"), "stop" (shutdown: stop accepting, finish in-flight requests within
"timeout"), "in_flight" ({"pool", "member", "id"}: how many requests are under way to
one server, asked while an app instance drains). Worker → master: "ready"
(listening), "stats" and "in_flight" (answers, with the request's "id"). Purges
come later; unknown types are ignored so old workers survive new masters during a
reload.
"""

from __future__ import annotations

import json
from typing import Any

Message = dict[str, Any]

MAX_LINE = 16 * 1024 * 1024  # a config, however large, is far below this


def encode(msg: Message) -> bytes:
    return json.dumps(msg, separators=(",", ":")).encode() + b"\n"


def decode(line: bytes) -> Message | None:
    """A message, or None for a line that is not a JSON object with a "type"."""
    try:
        msg = json.loads(line)
    except ValueError:
        return None
    if not isinstance(msg, dict) or not isinstance(msg.get("type"), str):
        return None
    return msg


class LineBuffer:
    """Splits a byte stream into messages; bounded by MAX_LINE."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[Message]:
        self._buf += data
        out: list[Message] = []
        while True:
            nl = self._buf.find(b"\n")
            if nl < 0:
                if len(self._buf) > MAX_LINE:
                    raise ValueError("control message too long")
                return out
            line = bytes(self._buf[:nl])
            del self._buf[: nl + 1]
            msg = decode(line)
            if msg is not None:
                out.append(msg)

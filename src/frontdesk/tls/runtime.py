"""A worker's TLS state, driven by the master's control messages.

The master sends, with the config and later as "tls" messages: the session-ticket key
(hex; rotated), and the certificates ACME obtained ([cert, key] file pairs). "challenge"
messages add or remove an ACME HTTP-01 answer (RFC 8555 §8.3) that the plain
listeners serve at /.well-known/acme-challenge/TOKEN.
"""

from __future__ import annotations

import ssl
from typing import Any

from frontdesk.config.model import Config
from frontdesk.log import error_log
from frontdesk.server.actions import Action
from frontdesk.server.request import Request
from frontdesk.server.response import FixedResponse
from frontdesk.tls.contexts import ServerTls

__all__ = ["WorkerTls", "ChallengeAnswers"]

_PREFIX = "/.well-known/acme-challenge/"


class ChallengeAnswers(Action):
    """HTTP-01: GET /.well-known/acme-challenge/TOKEN answers the key authorization."""

    name = "acme-challenge"

    def __init__(self, server: str) -> None:
        self.server = server
        self.answers: dict[str, FixedResponse] = {}
        self.missing = FixedResponse.build(
            404, [("Content-Type", "text/plain")], b"no such challenge\n", server=server
        )

    def set(self, token: str, key_authorization: str | None) -> None:
        if key_authorization is None:
            self.answers.pop(token, None)
        else:
            self.answers[token] = FixedResponse.build(
                200,
                [("Content-Type", "application/octet-stream")],
                key_authorization.encode("ascii"),
                server=self.server,
            )

    def respond(self, req: Request) -> FixedResponse:
        return self.answers.get(req.path[len(_PREFIX) :], self.missing)


class WorkerTls:
    """The certificates a worker's TLS listeners serve, and the ACME challenge answers."""

    def __init__(self, config: Config) -> None:
        tls = config.tls
        self.server: ServerTls | None = None
        if tls is not None and any(x.tls for x in config.listeners()):
            self.server = ServerTls(tls, http2=config.http2.enabled)
        self.challenge: ChallengeAnswers | None = None
        if tls is not None and tls.acme is not None:
            self.challenge = ChallengeAnswers(config.server.server_header)
        self._warned = False

    @property
    def context(self) -> ssl.SSLContext | None:
        return None if self.server is None else self.server.listener

    def on_message(self, msg: dict[str, Any]) -> dict[str, Any]:
        """Apply a "tls" or "challenge" message (or the config message's "tls" part)."""
        if "token" in msg and self.challenge is not None:
            self.challenge.set(str(msg["token"]), msg.get("key_authorization"))
        server = self.server
        if server is None:
            return {"ok": True}
        if "certificates" in msg:
            try:
                server.load([(str(c), str(k)) for c, k in msg["certificates"]])
            except (OSError, ssl.SSLError, ValueError) as exc:
                error_log.error("tls: certificates not replaced: %s", exc)
                return {"ok": False, "error": str(exc)}
        key = msg.get("ticket_key")
        if key and not server.set_ticket_key(bytes.fromhex(str(key))) and not self._warned:
            self._warned = True
            error_log.warning(
                "tls: the shared session-ticket key cannot be installed with this Python/"
                "OpenSSL; sessions resume only on the worker that made them"
            )
        return {"ok": True}

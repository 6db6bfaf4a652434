"""The master's part of TLS: the session-ticket key every worker shares, its rotation,
and (master/acme.py) the certificates obtained automatically.

A worker gets the current key and certificates with its config (`wire()`), so one
started later (a restart, a reload) resumes the sessions the others issued; each
change goes to every live worker as a "tls" message.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from frontdesk.config.model import Config
from frontdesk.log import error_log
from frontdesk.tls import tickets

if TYPE_CHECKING:
    from frontdesk.master.acme import AcmeManager

__all__ = ["MasterTls"]

Message = dict[str, Any]


class MasterTls:
    def __init__(
        self,
        config: Config,
        relay: Callable[[Message], None],
        ask: Callable[[Message], Awaitable[list[dict[str, object]]]],
    ) -> None:
        self.relay = relay
        self.ask = ask
        self.config = config
        self.ticket_key = tickets.new_key()
        self.obtained: list[tuple[str, str]] = []  # (cert, key) files from ACME
        self._rotation: asyncio.Task[None] | None = None
        self.acme: AcmeManager | None = None
        self._configure(config)

    def _configure(self, config: Config) -> None:
        """The ACME manager for `config`, with the certificates already in its store:
        workers start with them, before any is renewed."""
        self.config = config
        self.acme = None
        tls = config.tls
        if tls is None or tls.acme is None or not any(x.tls for x in config.listeners()):
            return
        from frontdesk.master.acme import AcmeManager

        self.acme = AcmeManager(config, self)
        self.obtained = self.acme.stored()

    def wire(self) -> Message:
        """What a worker starts from: the ticket key and the certificates obtained."""
        return {"ticket_key": self.ticket_key.hex(), "certificates": self.obtained}

    def start(self, config: Config) -> None:
        """Run the jobs `config` asks for (after a reload: for the new config)."""
        self.stop()
        if config is not self.config:
            self._configure(config)
        tls = config.tls
        if tls is None or not any(x.tls for x in config.listeners()):
            return
        if tls.session_tickets:
            self._rotation = asyncio.create_task(self._rotate(tls.ticket_key_rotation))
        if self.acme is not None:
            self.acme.start()

    def stop(self) -> None:
        if self._rotation is not None:
            self._rotation.cancel()
            self._rotation = None
        if self.acme is not None:
            self.acme.stop()

    def set_obtained(self, pairs: list[tuple[str, str]]) -> None:
        """New certificates from ACME: every worker serves them from its next handshake."""
        self.obtained = pairs
        self.relay({"type": "tls", "certificates": pairs})

    async def challenge(self, token: str, key_authorization: str | None) -> None:
        """Have every worker answer (None: stop answering) an HTTP-01 challenge; return
        once each has said so, so the CA is never told to look too early."""
        msg: Message = {"type": "challenge", "token": token}
        if key_authorization is not None:
            msg["key_authorization"] = key_authorization
        rows = await self.ask(msg)
        missing = [r["pid"] for r in rows if r.get("error")]
        if missing and key_authorization is not None:
            raise RuntimeError(f"workers {missing} did not take the challenge answer")

    async def _rotate(self, every: float) -> None:
        while True:
            await asyncio.sleep(every)
            self.ticket_key = tickets.new_key()
            self.relay({"type": "tls", "ticket_key": self.ticket_key.hex()})
            error_log.info("tls: session-ticket key rotated")

"""The master's part of TLS: the session-ticket key every worker shares, its rotation,
and (master/acme.py) the certificates obtained automatically.

A worker gets the current key and certificates with its config (`wire()`), so one
started later (a restart, a reload) resumes the sessions the others issued; each
change goes to every live worker as a "tls" message.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from frontdesk.config.model import Config
from frontdesk.log import error_log
from frontdesk.tls import tickets

__all__ = ["MasterTls"]

Message = dict[str, Any]


class MasterTls:
    def __init__(self, config: Config, relay: Callable[[Message], None]) -> None:
        self.relay = relay
        self.config = config
        self.ticket_key = tickets.new_key()
        self.obtained: list[tuple[str, str]] = []  # (cert, key) files from ACME
        self._rotation: asyncio.Task[None] | None = None
        self.acme: Any = None

    def wire(self) -> Message:
        """What a worker starts from: the ticket key and the certificates obtained."""
        return {"ticket_key": self.ticket_key.hex(), "certificates": self.obtained}

    def start(self, config: Config) -> None:
        """Run the jobs `config` asks for (after a reload: for the new config)."""
        self.stop()
        self.config = config
        tls = config.tls
        if tls is None or not any(x.tls for x in config.listeners()):
            return
        if tls.session_tickets:
            self._rotation = asyncio.create_task(self._rotate(tls.ticket_key_rotation))
        if tls.acme is not None:
            from frontdesk.master.acme import AcmeManager

            self.acme = AcmeManager(config, self)
            self.acme.start()

    def stop(self) -> None:
        if self._rotation is not None:
            self._rotation.cancel()
            self._rotation = None
        if self.acme is not None:
            self.acme.stop()
            self.acme = None

    def set_obtained(self, pairs: list[tuple[str, str]]) -> None:
        """New certificates from ACME: every worker serves them from its next handshake."""
        self.obtained = pairs
        self.relay({"type": "tls", "certificates": pairs})

    async def _rotate(self, every: float) -> None:
        while True:
            await asyncio.sleep(every)
            self.ticket_key = tickets.new_key()
            self.relay({"type": "tls", "ticket_key": self.ticket_key.hex()})
            error_log.info("tls: session-ticket key rotated")

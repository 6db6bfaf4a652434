"""The cheap access checks: client address lists and signed URLs; and the refusals.

Each is a `Check` (pipeline/layer.py) deciding on the loop with no waiting. Refusals
are built once at load time; none of them carries a byte of the protected resource.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from frontdesk.access.client import Networks, client_address, ip, networks
from frontdesk.access.signed import Outcome, verify
from frontdesk.pipeline.layer import Check
from frontdesk.server.response import FixedResponse

if TYPE_CHECKING:
    from frontdesk.config.access import Signed
    from frontdesk.server.request import Request

__all__ = ["AddressCheck", "SignedCheck", "refusal", "real_address"]


def refusal(
    status: int, text: str, server: str, extra: list[tuple[str, str]] | None = None
) -> FixedResponse:
    body = f"{status} {text}\n".encode()
    headers = [("Content-Type", "text/plain; charset=utf-8"), ("Cache-Control", "no-store")]
    return FixedResponse.build(status, headers + (extra or []), body, server=server)


def real_address(req: Request, trusted: Networks) -> str:
    """The client address access rules and rate limits judge (see client.py)."""
    if not trusted:
        return req.peer
    return client_address(req.peer, req.headers, trusted)


class AddressCheck(Check):
    """`deny` then `allow`: CIDR lists, IPv4 and IPv6, on the real client address."""

    def __init__(
        self, allow: tuple[str, ...], deny: tuple[str, ...], trusted: Networks, server: str
    ) -> None:
        self.allow = networks(allow)
        self.deny = networks(deny)
        self.trusted = trusted
        self.forbidden = refusal(403, "Forbidden", server)
        self._seen: dict[str, bool] = {}  # address → allowed (bounded memo)

    def allowed(self, address: str) -> bool:
        verdict = self._seen.get(address)
        if verdict is None:
            parsed = ip(address)
            if parsed is None:
                verdict = False
            else:
                v = parsed.version
                verdict = not any(v == n.version and parsed in n for n in self.deny) and (
                    not self.allow or any(v == n.version and parsed in n for n in self.allow)
                )
            if len(self._seen) >= 4096:
                self._seen.clear()
            self._seen[address] = verdict
        return verdict

    def check(self, req: Request) -> FixedResponse | None:
        return None if self.allowed(real_address(req, self.trusted)) else self.forbidden


class SignedCheck(Check):
    """A valid `expires` + `signature` in the query (signed.py)."""

    def __init__(self, cfg: Signed, trusted: Networks, server: str) -> None:
        self.keys = cfg.keys
        self.bind = cfg.client_address
        self.trusted = trusted
        self.forbidden = refusal(403, "Forbidden: missing or invalid signature", server)
        self.gone = refusal(410, "Gone: this link has expired", server)

    def check(self, req: Request) -> FixedResponse | None:
        address = real_address(req, self.trusted) if self.bind else None
        outcome = verify(self.keys, req.path, req.query, time.time(), address)
        if outcome is Outcome.VALID:
            return None
        return self.gone if outcome is Outcome.EXPIRED else self.forbidden

"""Automatic certificates (ACME, RFC 8555), run by the master.

For every host name the routes match that no configured certificate covers, the
master keeps a certificate in the store (tls/store.py): at start it hands the stored
ones to the workers, then gets the missing ones and renews those within
`renew_before` of expiry, checking again every `check_interval`. The protocol is certbot's
`acme` library (blocking: it runs in a thread). HTTP-01 (RFC 8555 §8.3) is answered
by the workers' plain listeners: the master sends them the token and the key
authorization, waits until each has it, and only then tells the CA to look.

A failure is logged with what to check, and that name is tried again after a pause
that doubles from 1 minute up to 6 hours; the other names go on.
"""

from __future__ import annotations

import asyncio
import datetime
import time
from typing import TYPE_CHECKING, Any

from frontdesk.config.model import Config
from frontdesk.log import error_log
from frontdesk.tls.store import CertStore, Stored

if TYPE_CHECKING:
    from frontdesk.master.tls import MasterTls

__all__ = ["AcmeManager", "acme_names"]

BACKOFF_FIRST = 60.0
BACKOFF_MAX = 6 * 3600.0
USER_AGENT = "frontdesk (acme-python)"


def acme_names(config: Config) -> list[str]:
    """The exact host names of the routes that no configured certificate covers
    (the config refuses wildcards among them; IP literals get none)."""
    from frontdesk.config.tls import uncovered

    if config.tls is None:
        return []
    hosts = [h for r in config.routes for h in r.match.host]
    return [h for h in uncovered(config.tls, hosts) if "*" not in h and not h.startswith("[")]


class AcmeManager:
    def __init__(self, config: Config, owner: MasterTls) -> None:
        assert config.tls is not None and config.tls.acme is not None
        self.acme = config.tls.acme
        self.owner = owner
        self.names = acme_names(config)
        self.store = CertStore(self.acme.storage)
        self.certs: dict[str, Stored] = {}
        self._next_try: dict[str, float] = {}
        self._backoff: dict[str, float] = {}
        self._task: asyncio.Task[None] | None = None
        self._client: Any = None

    def stored(self) -> list[tuple[str, str]]:
        """(cert, key) of the certificates in the store, still valid, for our names."""
        now = datetime.datetime.now(datetime.UTC)
        for name in self.names:
            found = self.store.load(name)
            if found is not None and found.not_after > now:
                self.certs[name] = found
        return self.pairs()

    def pairs(self) -> list[tuple[str, str]]:
        return [(s.cert, s.key) for s in self.certs.values()]

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None

    async def _run(self) -> None:
        while True:
            await self.round()
            await asyncio.sleep(self.acme.check_interval)

    def due(self, now: datetime.datetime) -> list[str]:
        """Names without a certificate, or whose certificate expires within renew_before,
        and not in a failure's pause."""
        soon = now + datetime.timedelta(seconds=self.acme.renew_before)
        return [
            n
            for n in self.names
            if (n not in self.certs or self.certs[n].not_after <= soon)
            and self._next_try.get(n, 0.0) <= time.monotonic()
        ]

    async def round(self) -> None:
        """Get or renew every certificate that is due; hand the new ones to the workers."""
        changed = False
        for name in self.due(datetime.datetime.now(datetime.UTC)):
            try:
                stored = await self._obtain(name)
            except Exception as exc:  # any failure: logged, retried later
                pause = min(max(self._backoff.get(name, 0.0) * 2, BACKOFF_FIRST), BACKOFF_MAX)
                self._backoff[name] = pause
                self._next_try[name] = time.monotonic() + pause
                failed = exc if isinstance(exc, Failed) else Failed(_reason(exc), "")
                error_log.error(
                    "acme: no certificate for %s from %s: %s; %snext try in %s",
                    name,
                    self.acme.directory,
                    failed.reason,
                    f"{failed.hint}; " if failed.hint else "",
                    _human(pause),
                )
                continue
            self._backoff.pop(name, None)
            self._next_try.pop(name, None)
            self.certs[name] = stored
            changed = True
            error_log.info(
                "acme: certificate for %s obtained, valid until %s",
                name,
                stored.not_after.strftime("%Y-%m-%d"),
            )
        if changed:
            self.owner.set_obtained(self.pairs())
        # A failed name whose pause ends before the next round is tried then.
        if self._next_try:
            wait = min(self._next_try.values()) - time.monotonic()
            if 0 < wait < self.acme.check_interval:
                asyncio.get_running_loop().call_later(wait, self._kick)

    def _kick(self) -> None:
        if self._task is not None and not self._task.done():
            asyncio.create_task(self.round())

    async def _obtain(self, name: str) -> Stored:
        loop = asyncio.get_running_loop()

        def provision(token: str, key_authorization: str | None) -> None:
            future = asyncio.run_coroutine_threadsafe(
                self.owner.challenge(token, key_authorization), loop
            )
            future.result(timeout=30)

        fullchain, key = await asyncio.to_thread(self._issue, name, provision)
        return self.store.save(name, fullchain, key)

    # ------------------------------------------------------------ in the ACME thread

    def _account(self) -> Any:
        from acme import client, errors, messages
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa
        from josepy.jwk import JWKRSA

        if self._client is not None:
            return self._client
        pem = self.store.read("account.key")
        if pem is None:
            private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            pem = private.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            self.store.write("account.key", pem)
        key = JWKRSA(key=serialization.load_pem_private_key(pem, password=None))
        net = client.ClientNetwork(key, user_agent=USER_AGENT)
        if self.acme.ca is not None:
            # requests takes a CA bundle path where the flag is (a private ACME server).
            net.verify_ssl = self.acme.ca  # type: ignore[assignment]
        directory = client.ClientV2.get_directory(self.acme.directory, net)
        acme = client.ClientV2(directory, net)
        registration = messages.NewRegistration.from_data(
            email=self.acme.email, terms_of_service_agreed=True
        )
        try:
            acme.new_account(registration)
        except errors.ConflictError as exc:  # this key has an account already
            net.account = messages.RegistrationResource(
                uri=exc.location, body=messages.Registration()
            )
        self._client = acme
        return acme

    def _issue(self, name: str, provision: Any) -> tuple[bytes, bytes]:
        from acme import challenges, crypto_util, errors
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ec

        try:
            acme = self._account()
        except Exception as exc:
            self._client = None  # make the account again next time
            raise Failed(
                f"cannot use the ACME directory ({_reason(exc)})",
                "check tls.acme.directory, that this machine reaches it, and tls.acme.ca "
                "for a private CA",
            ) from exc
        private = ec.generate_private_key(ec.SECP256R1())
        key_pem = private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        order = acme.new_order(crypto_util.make_csr(key_pem, [name]))
        tokens: list[str] = []
        try:
            for authz in order.authorizations:
                if authz.body.status.name == "valid":
                    continue  # validated recently for this account
                http01 = next(
                    (c for c in authz.body.challenges if isinstance(c.chall, challenges.HTTP01)),
                    None,
                )
                if http01 is None:
                    raise RuntimeError("the CA offers no HTTP-01 challenge for this name")
                response, validation = http01.response_and_validation(acme.net.key)
                token = http01.chall.encode("token")
                provision(token, validation)
                tokens.append(token)
                acme.answer_challenge(http01, response)
            deadline = datetime.datetime.now() + datetime.timedelta(seconds=90)
            try:
                order = acme.poll_and_finalize(order, deadline)
            except errors.ValidationError as exc:
                problems = [
                    str(c.error.detail)
                    for a in exc.failed_authzrs
                    for c in a.body.challenges
                    if c.error is not None
                ]
                raise Failed(
                    f"the CA could not validate it ({'; '.join(problems) or 'no detail'})",
                    f"check that {name} resolves to this machine and that port 80 reaches "
                    "a plain listener of frontdesk (HTTP-01)",
                ) from exc
        finally:
            for token in tokens:
                provision(token, None)
        return order.fullchain_pem.encode("ascii"), key_pem


class Failed(Exception):
    """Why a certificate could not be had, and what the operator can do about it."""

    def __init__(self, reason: str, hint: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.hint = hint


def _reason(exc: Exception) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:300]


def _human(seconds: float) -> str:
    return f"{seconds / 3600:g}h" if seconds >= 3600 else f"{seconds / 60:g}m"

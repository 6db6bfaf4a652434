"""``[access.NAME]`` tables (also spelled ``[auth.NAME]``) and a route's ``rate_limit``."""

from __future__ import annotations

import os
import re
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from .types import MODEL_CONFIG, Count, Duration, Network, check_field_value

__all__ = ["Access", "Signed", "ForwardAuth", "RateLimit", "parse_rate"]


class Signed(BaseModel):
    """Signed, expiring URLs: ``?expires=UNIX-TIME&signature=...`` made by
    `frontdesk sign` or ``frontdesk.sign_url()``."""

    model_config = MODEL_CONFIG

    keys: tuple[str, ...]
    """Secret keys, at least 16 characters each. URLs are signed with the first; a URL
    signed with any of them is accepted, so a new key goes first and the old one
    stays listed until the URLs signed with it have expired (rotation). Required."""

    client_address: bool = False
    """Bind each URL to the client address it was signed for (`frontdesk sign
    --client-address`). Default false."""

    @field_validator("keys")
    @classmethod
    def _keys(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("the key list is empty: give at least one key")
        for key in value:
            if len(key) < 16:
                raise ValueError("each key needs at least 16 characters")
        return value


class ForwardAuth(BaseModel):
    """Ask an auth service (nginx auth_request, Traefik ForwardAuth)."""

    model_config = MODEL_CONFIG

    url: str
    """The auth service's URL, http://host:port/path. Required."""

    request_headers: tuple[str, ...] = ("Authorization", "Cookie")
    """Request fields passed to the auth service (besides X-Forwarded-Method and
    X-Forwarded-Uri). Default ["Authorization", "Cookie"]."""

    copy_headers: tuple[str, ...] = ()
    """Fields of the auth service's 2xx answer copied onto the request, e.g. ["X-User"].
    Default none."""

    cache: Duration = 0.0
    """How long a decision is remembered, per value of the request_headers. Default 0
    (ask every time)."""

    timeout: Duration = 5.0
    """How long to wait for the auth service; then 503. Default "5s"."""


def _existing_file(value: str, info: ValidationInfo) -> str:
    base = (info.context or {}).get("config_dir") or os.getcwd()
    path = os.path.normpath(os.path.join(base, os.path.expanduser(value)))
    if not os.path.isfile(path):
        raise ValueError(f"htpasswd file {path!r} does not exist")
    from frontdesk.access.htpasswd import parse

    try:
        with open(path, encoding="utf-8") as f:
            parsed = parse(f.read())
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"cannot read htpasswd file {path!r}: {exc}") from None
    if parsed.errors:
        line, message = parsed.errors[0]
        raise ValueError(f"{path}:{line}: {message}")
    return path


class Access(BaseModel):
    """An access rule that routes name with ``access = "NAME"``. Every mechanism given
    must let a request through, in this order: allow/deny, signed, htpasswd, forward."""

    model_config = MODEL_CONFIG

    htpasswd: str | None = None
    """HTTP Basic auth (RFC 7617) against this htpasswd file (relative to the config
    file): bcrypt or argon2 hashes; legacy apr1 and SHA1 are accepted with a warning;
    plaintext is refused. Reloaded when it changes. Default: none."""

    realm: Annotated[str, AfterValidator(lambda v: check_field_value(v, "realm"))] = "restricted"
    """The realm of the WWW-Authenticate challenge. Default "restricted"."""

    allow: tuple[Network, ...] = ()
    """Client addresses or CIDR networks let through (IPv4 and IPv6); any other is
    refused (403). The client address is the peer's, or, from `trusted_proxies`,
    the one X-Forwarded-For / Forwarded names. Default []: every address."""

    deny: tuple[Network, ...] = ()
    """Client addresses or networks refused (403), checked before `allow`. Default []."""

    signed: Signed | None = None
    """Require a valid signed URL: { keys = [...] }. 403 when missing or tampered with,
    410 when expired. Default: none."""

    forward: ForwardAuth | None = None
    """Forward auth: { url = "http://127.0.0.1:9000/auth" }. Default: none."""

    @field_validator("htpasswd")
    @classmethod
    def _htpasswd(cls, value: str | None, info: ValidationInfo) -> str | None:
        return None if value is None else _existing_file(value, info)

    @model_validator(mode="after")
    def _some(self) -> Access:
        if not (self.htpasswd or self.allow or self.deny or self.signed or self.forward):
            raise ValueError("an access rule needs one of htpasswd, allow, deny, signed, forward")
        return self


_RATE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*/\s*(\d*)\s*(s|sec|second|m|min|minute|h|hour)\s*")
_UNIT = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60, "h": 3600, "hour": 3600}


def parse_rate(value: object) -> object:
    """ "10/s", "600/m", "5/10s" → requests per second."""
    if not isinstance(value, str):
        return value
    m = _RATE.fullmatch(value)
    if m is None:
        raise ValueError(f'invalid rate {value!r}: expected e.g. "10/s", "600/m", "1000/h"')
    count, per, unit = float(m.group(1)), int(m.group(2) or 1), _UNIT[m.group(3)]
    if count <= 0 or per <= 0:
        raise ValueError("a rate must be above zero")
    return count / (per * unit)


_KEY = re.compile(r"address|user|header:[!#$%&'*+.^_`|~0-9A-Za-z-]+")


class RateLimit(BaseModel):
    """A token bucket per key for one route: `rate` requests a second on average,
    up to `burst` at once; beyond, 429 with Retry-After."""

    model_config = MODEL_CONFIG

    rate: Annotated[float, Field(gt=0)]
    """Requests per period: "10/s", "600/m", "5/10s". Required."""

    burst: Count | None = None
    """Bucket size: requests allowed at once. Default: one second's worth (at least 1)."""

    key: str = "address"
    """Whose bucket a request draws from: "address" (the real client address),
    "user" (who Basic auth let in; the address when none), or "header:NAME".
    Default "address"."""

    redis: str | None = None
    """A Redis URL (redis://host:port/db): the buckets live there, shared by every
    frontdesk instance using it. Default: this machine's workers share them in memory."""

    max_keys: Count = 100_000
    """Buckets held per worker at most (memory stays bounded under a flood of
    addresses): full buckets are forgotten first. Default 100000."""

    @field_validator("rate", mode="before")
    @classmethod
    def _rate(cls, value: object) -> object:
        return parse_rate(value)

    @field_validator("key")
    @classmethod
    def _key(cls, value: str) -> str:
        if not _KEY.fullmatch(value):
            raise ValueError('expected "address", "user" or "header:NAME"')
        return value

    @property
    def capacity(self) -> int:
        return self.burst if self.burst is not None else max(1, int(self.rate))

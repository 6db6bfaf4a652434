"""The ``[cache.NAME]`` tables: an RFC 9111 shared cache that `proxy` routes use with
``cache = "NAME"``. Each storage table adds a tier, fastest first: memory → disk → redis.
"""

from __future__ import annotations

import os
import re
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from .types import MODEL_CONFIG, Duration, Network, Size

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")  # RFC 9110 §5.6.2


def _field_names(value: object) -> object:
    if isinstance(value, str):
        value = (value,)
    if isinstance(value, list | tuple):
        for name in value:
            if not isinstance(name, str) or not _TOKEN.fullmatch(name):
                raise ValueError(f"expected header field names, got {name!r}")
        return tuple(n.lower() for n in value)
    return value


def _params(value: object) -> object:
    if isinstance(value, str):
        value = (value,)
    if isinstance(value, list | tuple):
        for p in value:
            if not isinstance(p, str) or not p or "&" in p or "=" in p:
                raise ValueError(f'expected query parameter names such as "utm_*", got {p!r}')
    return tuple(value) if isinstance(value, list) else value


def _targeted_field(value: str) -> str:
    if not _TOKEN.fullmatch(value):
        raise ValueError(f"expected a header field name, got {value!r}")
    if value.lower() in ("cache-control", "cdn-cache-control", "expires"):
        raise ValueError(f"{value} is already read; name a field of this cache's own")
    return value


def _cache_status_name(value: str) -> str:
    if not value or any(not (0x20 < ord(c) < 0x7F) for c in value):
        raise ValueError("must be printable ASCII without spaces")
    return value


class Disk(BaseModel):
    """A disk tier shared by the workers of this machine; it survives restarts."""

    model_config = MODEL_CONFIG

    path: Annotated[str, Field(min_length=1)]
    """Directory of the cache files (created if missing). A relative path is taken from
    the config file's directory. Required."""

    size: Annotated[Size, Field(gt=0)] = 1024 * 1024 * 1024
    """Bytes the tier may hold; the least recently used files go beyond it. Default
    "1GB"."""

    max_object_size: Annotated[Size, Field(gt=0)] | None = None
    """Larger bodies are not stored on disk. Default: `size` / 8."""

    @field_validator("path")
    @classmethod
    def _path(cls, value: str, info: ValidationInfo) -> str:
        if "\0" in value:
            raise ValueError("must name a directory")
        base = (info.context or {}).get("config_dir") or os.getcwd()
        return os.path.normpath(os.path.join(base, os.path.expanduser(value)))


class Redis(BaseModel):
    """A Redis tier shared by every frontdesk instance that names the same server and
    namespace. When Redis stops answering the other tiers carry on, and it is used again
    when it is back."""

    model_config = MODEL_CONFIG

    url: Annotated[str, Field(pattern=r"^(redis|rediss|unix)://")]
    """e.g. "redis://127.0.0.1:6379/0". Required."""

    namespace: str = "frontdesk:"
    """Prefix of every key; instances that share a cache use the same one. Default
    "frontdesk:"."""

    max_object_size: Annotated[Size, Field(gt=0)] = 1024 * 1024
    """Larger bodies are not stored in Redis. Default "1MB"."""

    max_ttl: Annotated[Duration, Field(gt=0)] = 86400.0
    """The longest an entry lives in Redis. Default "1d"."""

    timeout: Annotated[Duration, Field(gt=0)] = 0.25
    """Per call; past it Redis is taken as down and retried in the background. Default
    "250ms"."""


class Key(BaseModel):
    """How the cache key is built from the URL (RFC 9111 §2)."""

    model_config = MODEL_CONFIG

    sort_query: bool = False
    """Sort query parameters by name, so that ?a=1&b=2 and ?b=2&a=1 share an entry.
    Default false."""

    ignore_params: Annotated[tuple[str, ...], BeforeValidator(_params)] = ()
    """Query parameters left out of the key AND of the request sent to the origin,
    exact or with a trailing "*": ["utm_*", "fbclid"]. Default []."""


class Cache(BaseModel):
    """One named cache, used by routes with ``cache = "NAME"``."""

    model_config = MODEL_CONFIG

    memory: Size = 64 * 1024 * 1024
    """Bytes of responses kept in memory for the whole server (S3-FIFO), one store that
    every worker reads (shared memory, docs/cache.md); each worker also keeps a hot copy
    of what it serves, up to a quarter of this. 0 for no memory tier. Default "64MB"."""

    max_object_size: Annotated[Size, Field(gt=0)] = 8 * 1024 * 1024
    """Larger response bodies pass through uncached. Default "8MB"."""

    disk: Disk | None = None
    """Optional disk tier: { path, size, max_object_size }."""

    redis: Redis | None = None
    """Optional Redis tier: { url, namespace, max_object_size, max_ttl, timeout }."""

    key: Key = Key()
    """Cache key normalisation: { sort_query, ignore_params }."""

    collapse: bool = True
    """Concurrent misses for one URL make one request to the origin; the others wait
    for its answer (when it turns out not storable they go on at once). Default true."""

    collapse_timeout: Annotated[Duration, Field(gt=0)] = 5.0
    """How long a collapsed request waits before going to the origin itself. Default
    "5s"."""

    store_set_cookie: bool = False
    """Store responses that carry Set-Cookie. Default false: a shared cache would hand
    one user's cookie to the next."""

    honor_client_no_cache: bool = True
    """Honour a client's Cache-Control no-cache / max-age / min-fresh (and Pragma:
    no-cache) by going to the origin. Turn off to protect a slow origin from reloads.
    Default true."""

    bypass_headers: Annotated[tuple[str, ...], BeforeValidator(_field_names)] = ()
    """Requests carrying any of these header fields skip the cache, e.g. ["Cookie"] for
    an origin that personalises pages by cookie without saying so. Default []."""

    heuristic_fraction: Annotated[float, Field(ge=0, le=1)] = 0.1
    """RFC 9111 §4.2.2: the share of (Date - Last-Modified) used as the freshness of a
    response with no explicit expiry. Default 0.1."""

    max_heuristic: Annotated[Duration, Field(ge=0)] = 86400.0
    """The longest heuristic freshness. Default "1d"."""

    purge_from: tuple[Network, ...] = ()
    """Addresses allowed to send the PURGE method (it removes the URL from every tier
    in every worker), e.g. ["127.0.0.1", "10.0.0.0/8"]. Default [] (PURGE is forwarded
    to the origin as any other method). `frontdesk purge` works regardless."""

    status_name: Annotated[str, AfterValidator(_cache_status_name)] = "frontdesk"
    """This cache's name in the Cache-Status response field (RFC 9211). Default
    "frontdesk"."""

    targeted_field: Annotated[str, AfterValidator(_targeted_field)] | None = None
    """A response header field of this cache's own, e.g. "Frontdesk-Cache-Control",
    that takes precedence over CDN-Cache-Control, which takes precedence over
    Cache-Control and Expires (RFC 9213 targeted cache control: the first of them with a
    valid Structured Field Dictionary value decides, in either direction). Default none:
    CDN-Cache-Control, then Cache-Control."""

    @model_validator(mode="after")
    def _some_tier(self) -> Cache:
        if not self.memory and self.disk is None and self.redis is None:
            raise ValueError("a cache needs at least one tier: memory, disk or redis")
        return self

"""The `proxy` route action and the `[pool.NAME]` tables (the proxy issue fills them in)."""

from __future__ import annotations

from pydantic import BaseModel

from .types import MODEL_CONFIG


class Proxy(BaseModel):
    """Forward requests to a pool of backend servers."""

    model_config = MODEL_CONFIG

    pool: str
    """Name of the ``[pool.NAME]`` table to forward to. Required."""


class Pool(BaseModel):
    """A group of backend servers."""

    model_config = MODEL_CONFIG

    servers: tuple[str, ...]
    """Backend addresses: "host:port" or "unix:/path". Required."""

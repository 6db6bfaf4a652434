"""The ``[app.NAME]`` tables: the app's own processes, started and supervised by frontdesk.

Each instance is a member of the app's pool that the master adds once its check
passes and takes out (drained) before stopping it (master/apps.py).
"""

from __future__ import annotations

import os
import re
import shlex
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, Field, ValidationInfo, field_validator

from .proxy import Health
from .types import MODEL_CONFIG, Count, Duration

__all__ = ["App", "APP_NAME", "REPLACING_KEYS"]

APP_NAME = re.compile(r"[A-Za-z0-9_-]+")
"""An app's name: it prefixes its output lines ("web.1 | ...") and names its instances."""

REPLACING_KEYS = ("command", "env", "cwd", "bind", "pool")
"""Keys whose change makes a reload replace an app's instances one by one (a rolling
restart); a change of `instances` adds or removes instances; any other change is
adopted by the running instances."""


def _command(value: object) -> object:
    # A string is split as a POSIX shell would split it (quotes, backslashes), without
    # running a shell: no globbing, no $VARIABLES, no pipes.
    if isinstance(value, str):
        try:
            value = shlex.split(value)
        except ValueError as exc:
            raise ValueError(f"cannot split the command: {exc}") from None
    if isinstance(value, list | tuple):
        if not value:
            raise ValueError("must not be empty: the program to run, then its arguments")
        if not all(isinstance(v, str) for v in value):
            raise ValueError("expected a string or an array of strings")
        if not value[0]:
            raise ValueError("the program name must not be empty")
    return value


def _env(value: object) -> object:
    if not isinstance(value, dict):
        return value
    out: dict[str, object] = {}
    for name, v in value.items():
        if not isinstance(name, str) or not name or "=" in name or "\0" in name:
            raise ValueError(f"invalid environment variable name {name!r}")
        if isinstance(v, bool):
            v = "true" if v else "false"  # TOML booleans, as a shell would spell them
        elif isinstance(v, int | float):
            v = str(v)
        if isinstance(v, str) and "\0" in v:
            raise ValueError(f"environment variable {name!r}: value must not contain NUL")
        out[name] = v
    return out


class App(BaseModel):
    """An ``[app.NAME]``: processes frontdesk starts, checks, restarts and puts in a pool.

    Each instance gets its own free loopback port in `$PORT` (or a socket path in
    `$FRONTDESK_SOCKET`, with `bind = "unix"`), and its name (`web.1`, `web.2`, ...) in
    `$FRONTDESK_INSTANCE`; the rest of the environment is frontdesk's own plus `env`.
    Its output goes to frontdesk's stdout, each line prefixed with the instance name."""

    model_config = MODEL_CONFIG

    command: Annotated[tuple[str, ...], BeforeValidator(_command)]
    """The program and its arguments: an array, or a string split as a shell would
    split it (quotes and backslashes; no globbing or pipes: write ["sh", "-c", "..."]
    for those). In each argument $PORT, $FRONTDESK_SOCKET and $FRONTDESK_INSTANCE (or
    ${PORT} ...) are replaced with the instance's values, so "uvicorn app:app --port
    $PORT" and "gunicorn -b 127.0.0.1:$PORT app:app" work as written. Required."""

    instances: Count = 1
    """How many processes run the command, each with its own port. Default 1."""

    pool: str = ""
    """The ``[pool.NAME]`` its instances join (made with the pool defaults, and this
    app's `health`, when no table of that name exists). Routes send requests to the
    app with proxy = { pool = "NAME" }. Default: the app's own name."""

    env: Annotated[dict[str, str], BeforeValidator(_env)] = {}
    """Environment variables added for the app, e.g. { DJANGO_SETTINGS_MODULE =
    "site.settings" } (numbers and booleans are written as text). Default none."""

    cwd: Annotated[str, Field(validate_default=True)] = ""
    """The directory the command runs in, relative to the config file's directory.
    Default: the config file's directory."""

    bind: Literal["port", "unix"] = "port"
    """"port": each instance listens on 127.0.0.1:$PORT; "unix": on the Unix socket
    path in $FRONTDESK_SOCKET (in frontdesk's temp directory). Default "port"."""

    health: Health | None = None
    """How a starting instance shows it is ready, as a pool's health table, e.g.
    { path = "/healthz" }: it joins the pool after its first passing check (checked
    every 100 ms while it starts). Without `path`: once its port accepts a
    connection. Default: the port accepting a connection."""

    start_timeout: Annotated[Duration, Field(gt=0)] = 60.0
    """An instance not ready within this long is stopped (and, at a restart or
    reload, the old instances keep serving). Default "60s"."""

    stop_timeout: Annotated[Duration, Field(gt=0)] = 10.0
    """After SIGTERM, an instance has this long to exit before SIGKILL. Default
    "10s"."""

    @field_validator("cwd")
    @classmethod
    def _cwd(cls, value: str, info: ValidationInfo) -> str:
        if "\0" in value:
            raise ValueError("must name a directory")
        base = (info.context or {}).get("config_dir") or os.getcwd()
        path = os.path.normpath(os.path.join(base, os.path.expanduser(value)))
        if not os.path.isdir(path):
            raise ValueError(f"directory {path!r} does not exist")
        return path

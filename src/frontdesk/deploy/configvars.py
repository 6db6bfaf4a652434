"""Config vars (Heroku's `config:set`): the app's settings and secrets, kept out of git.

Stored in the deploy directory as ``env.json`` (mode 0600) and given to every process
of every release; changing them makes the server restart the app's instances (a
rolling replacement, like a deploy). Pure parsing and checking here; the command
that applies a change is in ``commands.py``.
"""

from __future__ import annotations

import re

from .layout import DeployDir, DeployError

__all__ = ["parse_assignments", "check_name", "read_vars", "write_vars"]

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")

# Set by frontdesk itself for every instance; a config var of that name would be a lie.
RESERVED = frozenset({"PORT", "FRONTDESK_INSTANCE", "FRONTDESK_SOCKET", "FRONTDESK_RELEASE"})


def check_name(name: str) -> str:
    if not _NAME.match(name):
        raise DeployError(f"invalid config var name {name!r}: letters, digits and _ only")
    if name in RESERVED:
        raise DeployError(
            f"{name} is set by frontdesk for each instance; it cannot be a config var"
        )
    return name


def parse_assignments(args: list[str]) -> dict[str, str]:
    """["KEY=VALUE", ...] → {KEY: VALUE}; the value may hold "=" and be empty."""
    out = {}
    for arg in args:
        name, sep, value = arg.partition("=")
        if not sep:
            raise DeployError(f"expected KEY=VALUE, got {arg!r}")
        if "\0" in value:
            raise DeployError(f"the value of {name} holds a NUL byte")
        out[check_name(name)] = value
    return out


def read_vars(d: DeployDir) -> dict[str, str]:
    data = d.read_json(d.env_file, {})
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise DeployError(f"{d.env_file}: expected a JSON object of strings")
    return data


def write_vars(d: DeployDir, values: dict[str, str]) -> None:
    d.write_json(d.env_file, dict(sorted(values.items())), mode=0o600)

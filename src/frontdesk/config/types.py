"""Value types of the config file: the checks that turn one TOML value into a Python value.

Each check raises ``ValueError`` with a short message written for the person editing
the file; pydantic attaches the key path, and ``load.py`` the file and line.
Every check accepts its own output again, so a validated config dumped to JSON
(master → worker) validates to an equal config.
"""

from __future__ import annotations

import ipaddress
import re
import string
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, ConfigDict, Field

from .units import parse_duration, parse_size

__all__ = [
    "MODEL_CONFIG",
    "Size",
    "Duration",
    "Network",
    "Count",
    "ListenAddress",
    "split_listen",
    "Workers",
    "HeaderMap",
    "Hosts",
    "Methods",
    "check_redirect_target",
    "check_absolute_path",
    "check_regex",
    "REDIRECT_PLACEHOLDERS",
]

MODEL_CONFIG = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)
"""Every config table: unknown keys are errors, values frozen, docstrings documented."""

Size = Annotated[int, BeforeValidator(parse_size)]
"""Bytes; written as 512, "64KB", "1.5MB" (K = 1024)."""

Duration = Annotated[float, BeforeValidator(parse_duration)]
"""Seconds; written as 5, "250ms", "5s", "1m30s", "2h", "1d"."""


def _cidr(value: object) -> object:
    if not isinstance(value, str):
        return value
    try:
        return str(ipaddress.ip_network(value.strip(), strict=False))
    except ValueError:
        raise ValueError(
            f'invalid network {value!r}: expected an address or CIDR such as "10.0.0.0/8"'
        ) from None


Network = Annotated[str, BeforeValidator(_cidr)]
"""An address or network: "10.0.0.0/8", "127.0.0.1", "::1"."""


def _whole_number(value: object) -> object:
    # TOML has real booleans; pydantic's lax int would take `true` as 1.
    if isinstance(value, bool):
        raise ValueError(f"expected a whole number, got {str(value).lower()}")
    return value


Count = Annotated[int, BeforeValidator(_whole_number), Field(ge=1)]
"""A whole number >= 1."""


# --- listen addresses -------------------------------------------------------------------

_LISTEN_HINT = 'expected "host:port", "[::1]:port", ":port" or a port number'
_HOST_RE = re.compile(r"[A-Za-z0-9_.-]+")


def host_port(host: str, port: int) -> str:
    """ "host:port", with an IPv6 literal in brackets (RFC 3986 §3.2.2)."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def split_listen(address: str) -> tuple[str, int]:
    """Split a normalised listen address into (host, port); host "" means all interfaces."""
    host, _, port = address.rpartition(":")
    return host.removeprefix("[").removesuffix("]"), int(port)


def _port(text: str, original: object) -> int:
    if not text.isdigit() or int(text) > 65535:
        raise ValueError(f"invalid listen address {original!r}: port must be 0-65535")
    return int(text)


def _listen_address(value: object) -> str:
    """Normalise to "host:port", "[v6]:port" or ":port" (all interfaces)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return f":{_port(str(value), value)}"
    if not isinstance(value, str):
        raise ValueError(f"invalid listen address {value!r}: {_LISTEN_HINT}")
    text = value.strip()
    if text.isdigit():
        return f":{_port(text, value)}"
    if text.startswith("["):
        host, sep, port = text[1:].partition("]:")
        if not sep or not host or not all(c in string.hexdigits + ":." for c in host):
            raise ValueError(f"invalid listen address {value!r}: {_LISTEN_HINT}")
        return f"[{host.lower()}]:{_port(port, value)}"
    host, sep, port = text.rpartition(":")
    if not sep or ":" in host or (host and not _HOST_RE.fullmatch(host)):
        raise ValueError(f"invalid listen address {value!r}: {_LISTEN_HINT}")
    return f"{host.lower()}:{_port(port, value)}"


ListenAddress = Annotated[str, BeforeValidator(_listen_address)]


# --- workers ----------------------------------------------------------------------------


def _workers(value: object) -> object:
    if value == "auto":
        return value
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return value
    raise ValueError(f'expected "auto" or a whole number >= 1, got {value!r}')


Workers = Annotated[int | Literal["auto"], BeforeValidator(_workers)]


# --- HTTP tokens and header fields ------------------------------------------------------

# RFC 9110 §5.6.2: token = 1*tchar; tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+"
#   / "-" / "." / "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA
_TOKEN_RE = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# RFC 9110 §5.5: "Field values containing CR, LF, or NUL characters are invalid and dangerous"
_BAD_VALUE_CHARS = ("\r", "\n", "\0")


def check_field_value(value: str, what: str) -> str:
    if any(c in value for c in _BAD_VALUE_CHARS):
        raise ValueError(f"{what} must not contain CR, LF or NUL")
    return value


def _header_map(value: object) -> object:
    if not isinstance(value, dict):
        return value  # let pydantic report the type error
    for name, field_value in value.items():
        if not isinstance(name, str) or not _TOKEN_RE.fullmatch(name):
            raise ValueError(f"invalid header name {name!r}: must be an HTTP token")
        if isinstance(field_value, str):
            check_field_value(field_value, f"header {name!r} value")
    return value


HeaderMap = Annotated[dict[str, str], BeforeValidator(_header_map)]


def _one_or_many(value: Any) -> Any:
    return (value,) if isinstance(value, str) else value


_HOSTNAME_RE = re.compile(r"(\*\.)?[a-z0-9_]([a-z0-9_.-]*[a-z0-9_])?\.?|\[[0-9a-f:.]+\]")


def _host(value: object) -> object:
    if not isinstance(value, str):
        return value
    host = value.strip().lower()
    if not _HOSTNAME_RE.fullmatch(host):
        raise ValueError(
            f'invalid host {value!r}: expected a name such as "example.com" or "*.example.com"'
        )
    return host


Hosts = Annotated[tuple[Annotated[str, BeforeValidator(_host)], ...], BeforeValidator(_one_or_many)]


def _method(value: object) -> object:
    if not isinstance(value, str):
        return value
    if not _TOKEN_RE.fullmatch(value):
        raise ValueError(f"invalid method {value!r}: must be an HTTP token such as GET")
    if value != value.upper():
        # RFC 9110 §9.1: "The method token is case-sensitive"; "get" would never match.
        raise ValueError(f"methods are case-sensitive: did you mean {value.upper()!r}?")
    return value


Methods = Annotated[
    tuple[Annotated[str, BeforeValidator(_method)], ...], BeforeValidator(_one_or_many)
]


# --- paths and patterns ----------------------------------------------------------------


def check_absolute_path(value: str) -> str:
    if not value.startswith("/"):
        raise ValueError(f'must start with "/", got {value!r}')
    return check_field_value(value, "path")


def check_regex(value: str) -> str:
    try:
        re.compile(value)
    except re.error as exc:
        raise ValueError(f"regex {value!r} does not compile: {exc}") from exc
    return value


# --- redirect targets -------------------------------------------------------------------

REDIRECT_PLACEHOLDERS = ("host", "path", "query", "uri")


def check_redirect_target(target: str) -> str:
    """Accept only the known placeholders, so a typo fails at load time, not per request."""
    check_field_value(target, "redirect target")
    if not target:
        raise ValueError("redirect target must not be empty")
    try:
        fields = list(string.Formatter().parse(target))
    except ValueError as exc:
        raise ValueError(f"invalid redirect target {target!r}: {exc} (write {{{{ for {{)") from exc
    known = ", ".join("{" + p + "}" for p in REDIRECT_PLACEHOLDERS)
    for _, name, spec, conversion in fields:
        if name is None:
            continue
        if name not in REDIRECT_PLACEHOLDERS or spec or conversion:
            shown = (
                "{"
                + name
                + ("!" + conversion if conversion else "")
                + (":" + spec if spec else "")
                + "}"
            )
            raise ValueError(f"unknown placeholder {shown} in redirect target; use {known}")
    return target

"""Write a frontdesk config (a dict as tomllib reads it) back as TOML text.

The deploy layer generates the config a release is served with from the app's own
frontdesk.toml plus what the deploy adds (listen address, the app's cwd and env);
writing it out as a file lets an operator read, and `frontdesk check`, exactly what
runs. Top-level tables are written as ``[name]``, ``[name.KEY]`` (tables of tables
such as ``[pool.web]``) or ``[[name]]`` (arrays of tables such as ``[[route]]``);
everything below that is written inline, which TOML allows for any value.
"""

from __future__ import annotations

import datetime
import json
import math
import re
from collections.abc import Mapping
from typing import Any

__all__ = ["dumps"]

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+\Z")


def dumps(data: Mapping[str, Any]) -> str:
    """TOML text that `tomllib.loads` reads back equal to `data`."""
    lines: list[str] = []
    scalars = {k: v for k, v in data.items() if not _is_table(v) and not _is_table_array(v)}
    for key, value in scalars.items():
        lines.append(f"{_key(key)} = {_value(value)}")
    for key, value in data.items():
        if key in scalars:
            continue
        if _is_table_array(value):
            for item in value:
                lines += ["", f"[[{_key(key)}]]"] + _body(item)
        elif all(_is_table(v) for v in value.values()) and value:
            # A table of named tables ([pool.web], [app.web]): one header each.
            for name, table in value.items():
                lines += ["", f"[{_key(key)}.{_key(name)}]"] + _body(table)
        else:
            lines += ["", f"[{_key(key)}]"] + _body(value)
    return "\n".join(lines).lstrip("\n") + "\n"


def _is_table(value: object) -> bool:
    return isinstance(value, Mapping)


def _is_table_array(value: object) -> bool:
    return isinstance(value, list | tuple) and bool(value) and all(map(_is_table, value))


def _body(table: Mapping[str, Any]) -> list[str]:
    return [f"{_key(k)} = {_value(v)}" for k, v in table.items()]


def _key(key: str) -> str:
    return key if _BARE_KEY.match(key) else _string(key)


def _string(text: str) -> str:
    # JSON's string escapes are TOML's basic-string escapes (TOML has no \/, which
    # json.dumps never writes). Non-ASCII is written as is: JSON would spell a
    # character beyond U+FFFF as a surrogate pair, which TOML refuses; and DEL, a
    # control character TOML wants escaped, JSON leaves raw.
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, Mapping):
        inner = ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items())
        return f"{{ {inner} }}" if inner else "{}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} as TOML")

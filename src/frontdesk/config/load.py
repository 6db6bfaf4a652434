"""TOML text → validated ``Config``, or a ``ConfigError`` listing every issue found.

This is the one place where tomllib and pydantic errors become ``ConfigIssue``s.
Key paths use TOML names with 0-based indexes, as written in the file:
``route[0].match.path`` is the ``path`` key of the first ``[[route]]``; the line
number points at it.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import tomllib
from importlib import resources
from pathlib import Path as FilePath
from typing import Any, get_args, get_origin

from pydantic import BaseModel, ValidationError

from ..errors import ConfigError, ConfigIssue
from .locate import Path, locate
from .model import Config, Match, Respond, Route
from .validate import cross_check

__all__ = ["load_file", "load_text", "default_config", "format_key"]

# Keys from DESIGN.md that later versions add; say so instead of "unknown key".
_PLANNED: dict[tuple[str, ...], tuple[str, ...]] = {}

_PLANNED_POOL = ("balance", "health")


def load_file(path: str | FilePath) -> Config:
    """Read and validate the config file at `path`."""
    name = str(path)
    try:
        data = FilePath(path).read_bytes()
    except OSError as exc:
        raise ConfigError([ConfigIssue(name, "", None, f"cannot read: {exc.strerror}")]) from exc
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        issue = ConfigIssue(name, "", line, "not valid UTF-8 (TOML files must be UTF-8)")
        raise ConfigError([issue]) from exc
    return load_text(text, name)


_TOML_POSITION = re.compile(r"\s*\(at line (\d+), column \d+\)|\s*\(at end of document\)")


def load_text(text: str, filename: str) -> Config:
    """Parse and validate config `text`; `filename` names it in messages, and relative
    paths in it (a static `root`) are relative to its directory."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        m = _TOML_POSITION.search(message)
        line = text.count("\n") + 1 if m is None or m.group(1) is None else int(m.group(1))
        message = _TOML_POSITION.sub("", message)
        raise ConfigError([ConfigIssue(filename, "", line, f"TOML syntax: {message}")]) from exc
    issues = [
        ConfigIssue(filename, format_key(loc), locate(text, loc), message)
        for loc, message in cross_check(data)
    ]
    config_dir = os.path.dirname(os.path.abspath(filename))
    try:
        config = Config.model_validate(data, context={"config_dir": config_dir})
    except ValidationError as exc:
        issues += [_issue(error, text, filename) for error in exc.errors()]
    if issues:
        issues.sort(key=lambda i: (i.line is None, i.line or 0))
        raise ConfigError(issues) from None
    return config


def default_config() -> Config:
    """The config `frontdesk serve` runs without -c: a welcome page on port 8080."""
    page = resources.files("frontdesk.config").joinpath("welcome.html").read_text("utf-8")
    welcome = Respond(status=200, body=page, headers={"Content-Type": "text/html; charset=utf-8"})
    return Config(routes=(Route(name="welcome", match=Match(), respond=welcome),))


def format_key(loc: Path) -> str:
    """("route", 0, "match", "path") → "route[0].match.path"."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            key = part if part and all(c.isalnum() or c in "_-" for c in part) else json.dumps(part)
            out += f".{key}" if out else key
    return out


def _issue(error: Any, text: str, filename: str) -> ConfigIssue:
    loc: Path = tuple(p for p in error["loc"] if isinstance(p, int) or not _is_tag(p))
    return ConfigIssue(filename, format_key(loc), locate(text, loc), _message(error, loc))


def _is_tag(part: str) -> bool:
    # pydantic inserts union member / function tags such as "int" or "function-after[...]"
    return "[" in part or part in {"int", "str", "float", "literal"}


def _message(error: Any, loc: Path) -> str:
    kind: str = error["type"]
    ctx: dict[str, Any] = error.get("ctx") or {}
    got = _toml_repr(error.get("input"))
    if kind == "extra_forbidden":
        return _unknown_key(loc)
    if kind == "value_error":
        return str(ctx.get("error", error["msg"]))
    if kind == "missing":
        return "required key is missing"
    if kind == "literal_error":
        return f"expected {ctx['expected']}, got {got}"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return f"expected a table, got {got}"
    if kind in ("tuple_type", "list_type"):
        return f"expected an array, got {got}"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return f"expected a whole number, got {got}"
    if kind == "string_type":
        return f"expected a string, got {got}"
    limits = {
        "greater_than_equal": ">=",
        "greater_than": ">",
        "less_than_equal": "<=",
        "less_than": "<",
    }
    if kind in limits:
        limit = next(iter(ctx.values()))
        return f"must be {limits[kind]} {limit}, got {got}"
    if kind == "too_short" and ctx.get("min_length") == 1:
        return "must not be empty"
    return str(error["msg"]).replace("Input should be", "expected")


def _unknown_key(loc: Path) -> str:
    key = str(loc[-1])
    parent = tuple(p for p in loc[:-1] if isinstance(p, str))
    if key in _PLANNED.get(parent, ()) or (parent[:1] == ("pool",) and key in _PLANNED_POOL):
        return f"'{key}' is not supported by this version of frontdesk yet"
    model = _model_at(loc[:-1])
    names = [] if model is None else [f.alias or n for n, f in model.model_fields.items()]
    close = difflib.get_close_matches(key, names, n=1)
    hint = f"; did you mean '{close[0]}'?" if close else f"; expected one of: {', '.join(names)}"
    return f"unknown key '{key}'{hint}"


def _model_at(loc: Path) -> type[BaseModel] | None:
    """The model class that validates the table at `loc`, following field annotations
    (through ``dict[str, Model]`` tables such as ``[pool.NAME]``)."""
    model: type[BaseModel] | None = Config
    table_of: type[BaseModel] | None = None  # the value model of a dict just entered
    for part in loc:
        if table_of is not None:
            model, table_of = table_of, None  # `part` is the table's NAME
            continue
        if isinstance(part, int) or model is None:
            continue  # an index selects an item of the sequence already unwrapped
        field = next(
            (f for n, f in model.model_fields.items() if part in (n, f.alias)),
            None,
        )
        annotation = None if field is None else field.annotation
        if get_origin(annotation) is dict:
            table_of = _find_model(get_args(annotation)[1])
            model = None
        else:
            model = None if annotation is None else _find_model(annotation)
    return model


def _find_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if get_origin(annotation) is dict:
        return None
    for arg in get_args(annotation):
        found = _find_model(arg)
        if found is not None:
            return found
    return None


def _toml_repr(value: Any) -> str:
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list | tuple):
        return "an array"
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)

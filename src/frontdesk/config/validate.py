"""Checks across tables, run on the parsed TOML alongside the per-table validation.

They look at the raw data (so they run even when some table is invalid, and every
mistake is reported at once) and return (key path, message) pairs; load.py turns them
into located ConfigIssues, so a route naming a pool that does not exist is reported
at its `pool` key's line.
"""

from __future__ import annotations

import difflib
from typing import Any

from .locate import Path

__all__ = ["cross_check"]


def cross_check(data: dict[str, Any]) -> list[tuple[Path, str]]:
    """Every cross-table mistake in the parsed file `data`, in file order of the routes."""
    problems: list[tuple[Path, str]] = []
    fed = _app_pools(data)
    declared = data.get("pool")
    for name, pool in (declared if isinstance(declared, dict) else {}).items():
        if isinstance(pool, dict) and not pool.get("servers") and name not in fed:
            where = ("pool", name, "servers") if "servers" in pool else ("pool", name)
            problems.append(
                (
                    where,
                    "must not be empty: list at least one server (or name this pool "
                    "as the `pool` of an [app.NAME])",
                )
            )
    routes = data.get("route")
    if not isinstance(routes, list):
        return problems
    pools = sorted({*_names(data, "pool"), *fed})
    caches = _names(data, "cache")
    rules = sorted(set(_names(data, "access")) | set(_names(data, "auth")))
    for index, route in enumerate(routes):
        if not isinstance(route, dict):
            continue
        problems += _access_problems(index, route, rules)
        proxy = route.get("proxy")
        pool = proxy.get("pool") if isinstance(proxy, dict) else None
        if isinstance(pool, str) and pool not in pools:
            # A missing or mistyped `pool` is the table validation's to report.
            hint = _hint(pool, pools, f"add a [pool.{pool}] table with its servers", "pools")
            problems.append((("route", index, "proxy", "pool"), f"no pool {pool!r}{hint}"))
        cache = route.get("cache")
        if not isinstance(cache, str):
            continue
        if cache not in caches:
            hint = _hint(
                cache, caches, f'add a [cache.{cache}] table, e.g. memory = "64MB"', "caches"
            )
            problems.append((("route", index, "cache"), f"no cache {cache!r}{hint}"))
        elif proxy is None:
            problems.append(
                (("route", index, "cache"), "only a route with `proxy` can use a cache")
            )
    return problems


def _app_pools(data: dict[str, Any]) -> set[str]:
    """The pools that [app.NAME] tables put their instances in (made when missing)."""
    apps = data.get("app")
    if not isinstance(apps, dict):
        return set()
    out = set()
    for name, app in apps.items():
        pool = app.get("pool", name) if isinstance(app, dict) else None
        if isinstance(pool, str):
            out.add(pool or name)
    return out


def _access_problems(index: int, route: dict[str, Any], rules: list[str]) -> list[tuple[Path, str]]:
    problems: list[tuple[Path, str]] = []
    given = [k for k in ("access", "auth") if k in route]
    if len(given) == 2:
        problems.append(
            (("route", index, "auth"), "use one of access and auth (they mean the same)")
        )
    for key in given:
        name = route[key]
        if isinstance(name, str) and name not in rules:
            hint = _hint(name, rules, f"add an [access.{name}] table", "access rules")
            problems.append((("route", index, key), f"no access rule {name!r}{hint}"))
    if route.get("internal") is True and "static" not in route:
        problems.append((("route", index, "internal"), "only a `static` route can be internal"))
    return problems


def _names(data: dict[str, Any], table: str) -> list[str]:
    tables = data.get(table)
    return sorted(tables) if isinstance(tables, dict) else []


def _hint(name: str, names: list[str], add: str, what: str) -> str:
    close = difflib.get_close_matches(name, names, n=1)
    if close:
        return f"; did you mean {close[0]!r}?"
    if names:
        return f"; defined {what}: {', '.join(names)}"
    return f"; {add}"

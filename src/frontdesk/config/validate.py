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
    pools = data.get("pool")
    names = sorted(pools) if isinstance(pools, dict) else []
    routes = data.get("route")
    if not isinstance(routes, list):
        return problems
    for index, route in enumerate(routes):
        proxy = route.get("proxy") if isinstance(route, dict) else None
        pool = proxy.get("pool") if isinstance(proxy, dict) else None
        if not isinstance(pool, str) or pool in names:
            continue  # a missing or mistyped `pool` is the table validation's to report
        close = difflib.get_close_matches(pool, names, n=1)
        if close:
            hint = f"; did you mean {close[0]!r}?"
        elif names:
            hint = f"; defined pools: {', '.join(names)}"
        else:
            hint = f"; add a [pool.{pool}] table with its servers"
        problems.append((("route", index, "proxy", "pool"), f"no pool {pool!r}{hint}"))
    return problems

"""Checks across tables, run once the file has validated table by table.

Each returns (key path, message) pairs; load.py turns them into located ConfigIssues,
so a route naming a pool that does not exist is reported at its `pool` key's line.
"""

from __future__ import annotations

import difflib

from .locate import Path
from .model import Config

__all__ = ["cross_check"]


def cross_check(config: Config) -> list[tuple[Path, str]]:
    """Every cross-table mistake in `config`, in file order of the routes."""
    problems: list[tuple[Path, str]] = []
    for index, route in enumerate(config.routes):
        proxy = route.proxy
        if proxy is not None and proxy.pool not in config.pools:
            names = sorted(config.pools)
            close = difflib.get_close_matches(proxy.pool, names, n=1)
            if close:
                hint = f"; did you mean {close[0]!r}?"
            elif names:
                hint = f"; defined pools: {', '.join(names)}"
            else:
                hint = f"; add a [pool.{proxy.pool}] table with its servers"
            problems.append((("route", index, "proxy", "pool"), f"no pool {proxy.pool!r}{hint}"))
    return problems

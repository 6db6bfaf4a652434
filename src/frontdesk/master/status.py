"""Admin API endpoints that report: GET /status (the master, its workers, their figures)."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from frontdesk import __version__
from frontdesk.master.admin import AdminRequest, AdminServer

if TYPE_CHECKING:
    from frontdesk.master.workers import Master


def add_status_routes(admin: AdminServer, master: Master) -> None:
    async def index(req: AdminRequest) -> tuple[int, Any]:
        endpoints = ["GET /status", "POST /pools/{pool}/{drain|disable|enable}"]
        endpoints += ["POST /cache/purge", "GET /pools", "GET /caches", "GET /routes"]
        endpoints += ["GET /config", "GET /apps", "POST /apps/{name}/restart", "POST /reload"]
        endpoints += ["GET /metrics", "GET /ui"]
        return 200, {"endpoints": [*endpoints, "GET /openapi.json"]}

    admin.route("GET", "/", index)


async def status_payload(master: Master) -> dict[str, Any]:
    from frontdesk.admin.api import traffic
    from frontdesk.admin.metrics import merge

    # "metrics": the worker's stats and its counters (admin/metrics.py), in one answer.
    workers = await master.ask_workers({"type": "metrics"})
    counters = merge([w.pop("metrics", None) or {} for w in workers])  # type: ignore[misc]
    totals = {
        key: sum(int(w.get(key, 0)) for w in workers)  # type: ignore[call-overload]
        for key in ("connections", "requests", "rss_bytes")
    }
    return {
        "version": __version__,
        "pid": os.getpid(),
        "uptime": round(time.time() - master.started, 1),
        "config": master.config_path or "(embedded default)",
        "generation": master.generation,
        "listen": [f"{h}:{p}" for h, p in master.sockets_addresses()],
        "workers": workers,
        "totals": totals,
        "pools": merge_pools(workers),
        "caches": merge_caches(workers),
        "rate_limits": merge_rate_limits(workers),
        "traffic": traffic(counters),
        "counters": counters,
        "apps": master.apps.rows(),  # master/app_admin.py documents a row
    }


def merge_caches(workers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each cache over all workers: lookups summed; a tier of each worker's own summed,
    a shared tier (memory, disk, redis) as the largest view of it."""
    caches: dict[str, dict[str, Any]] = {}
    for w in workers:
        for name, c in w.get("caches", {}).items():
            cache = caches.setdefault(
                name, {"cache": name, "hits": 0, "misses": 0, "collapsed": 0, "tiers": {}}
            )
            for k in ("hits", "misses", "collapsed"):
                cache[k] += c[k]
            for t in c["tiers"]:
                row = cache["tiers"].setdefault(
                    t["name"],
                    {"name": t["name"], "entries": 0, "bytes": 0, "hits": 0, "misses": 0}
                    | {"stores": 0, "up": True},
                )
                for k in ("hits", "misses", "stores"):  # each worker's own lookups, stores
                    row[k] += t.get(k, 0)
                for k in ("entries", "bytes"):
                    own = not t.get("shared", t["name"] != "memory")  # each worker's own
                    row[k] = row[k] + t[k] if own else max(row[k], t[k])
                row["up"] = row["up"] and t["up"]
    return [c | {"tiers": list(c["tiers"].values())} for c in caches.values()]


def merge_rate_limits(workers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each rate-limited route's buckets over all workers: a table of each worker's own
    summed, the table the workers share counted once (the largest view of it)."""
    routes: dict[str, dict[str, Any]] = {}
    for w in workers:
        for r in w.get("rate_limits", []):
            row = routes.setdefault(
                r["route"], {"route": r["route"], "keys": 0, "max_keys": 0, "shared": r["shared"]}
            )
            if r["shared"]:
                row["keys"] = max(row["keys"], r["keys"])
                row["max_keys"] = max(row["max_keys"], r["max_keys"])
            else:
                row["keys"] += r["keys"]
                row["max_keys"] += r["max_keys"]
    return list(routes.values())


def merge_pools(workers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each pool's servers over all workers: states as counted, connections summed.

    Passive health is per worker (each sees its own traffic), so a server may be
    ejected in one worker and up in another; the counts say so."""
    pools: dict[str, dict[str, Any]] = {}
    for w in workers:
        for p in w.get("pools", []):
            pool = pools.setdefault(p["pool"], {"pool": p["pool"], "balance": p["balance"]})
            servers = pool.setdefault("servers", {})
            for s in p["servers"]:
                row = servers.setdefault(
                    s["server"],
                    {"server": s["server"], "weight": s["weight"], "states": {}}
                    | {k: 0 for k in ("in_flight", "open", "idle", "ejections")}
                    | {"latency_ewma": 0.0},
                )
                row["states"][s["state"]] = row["states"].get(s["state"], 0) + 1
                for k in ("in_flight", "open", "idle"):
                    row[k] += s[k]
                # Each worker has its own estimate and passive state: the worst shown.
                row["latency_ewma"] = max(row["latency_ewma"], s.get("latency_ewma", 0.0))
                row["ejections"] = max(row["ejections"], s.get("ejections", 0))
    return [p | {"servers": list(p["servers"].values())} for p in pools.values()]


def _states(states: dict[str, int]) -> str:
    if len(states) == 1:
        return next(iter(states))
    return ", ".join(f"{state} in {n}" for state, n in sorted(states.items()))


def _table(rows: Sequence[tuple[str, ...]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]


def _duration(seconds: float) -> str:
    s = int(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 86400}d{s % 86400 // 3600:02d}h"


def _megabytes(n: Any) -> str:
    return f"{int(n) / 1048576:.1f} MB" if n else "-"


def format_status(p: dict[str, Any]) -> str:
    """The /status payload as the table `frontdesk status` prints."""
    lines = [
        f"frontdesk {p['version']}  master pid {p['pid']}  up {_duration(p['uptime'])}  "
        f"generation {p['generation']}",
        f"config: {p['config']}",
        f"listening on: {', '.join(p['listen'])}",
        "",
    ]
    rows = [("worker", "pid", "gen", "state", "up", "conns", "requests", "rss")]
    for w in p["workers"]:
        rows.append(
            (
                str(w["slot"]),
                str(w["pid"]),
                str(w["generation"]),
                w["state"] if "error" not in w else f"{w['state']} ({w['error']})",
                _duration(w["uptime"]),
                str(w.get("connections", "-")),
                str(w.get("requests", "-")),
                _megabytes(w.get("rss_bytes")),
            )
        )
    t = p["totals"]
    rows.append(
        (
            "total",
            "",
            "",
            "",
            "",
            str(t["connections"]),
            str(t["requests"]),
            _megabytes(t["rss_bytes"]),
        )
    )
    lines += _table(rows)
    lines += format_traffic(p.get("traffic"))
    for pool in p.get("pools", []):
        lines += ["", f"pool {pool['pool']} ({pool['balance']})"]
        table = [("server", "weight", "state", "in-flight", "open", "idle")]
        for sv in pool["servers"]:
            table.append(
                (
                    sv["server"],
                    str(sv["weight"]),
                    _states(sv["states"]),
                    str(sv["in_flight"]),
                    str(sv["open"]),
                    str(sv["idle"]),
                )
            )
        lines += _table(table)
    lines += format_apps(p.get("apps", []))
    for cache in p.get("caches", []):
        lookups = cache["hits"] + cache["misses"]
        ratio = f"{100 * cache['hits'] / lookups:.1f}%" if lookups else "-"
        lines += [
            "",
            f"cache {cache['cache']}: {cache['hits']} hits, {cache['misses']} misses "
            f"({ratio} hit), {cache['collapsed']} collapsed",
        ]
        tiers: list[tuple[str, ...]] = [("tier", "entries", "size", "hit", "stores", "state")]
        for t in cache["tiers"]:
            state = "up" if t["up"] else "down"
            looked = t.get("hits", 0) + t.get("misses", 0)
            hit = f"{100 * t['hits'] / looked:.1f}%" if looked else "-"
            size = _megabytes(t["bytes"])
            tiers.append((t["name"], str(t["entries"]), size, hit, str(t.get("stores", 0)), state))
        lines += _table(tiers)
    for r in p.get("rate_limits", []):
        tracked = f"{r['keys']} clients tracked (at most {r['max_keys']})"
        lines += ["", f"rate limit {r['route']}: {tracked}"]
    return "\n".join(lines)


def format_traffic(t: dict[str, Any] | None) -> list[str]:
    """One line: requests since start by status class, latency percentiles over them."""
    if not t:
        return []
    from frontdesk.admin.metrics import quantile

    classes = "  ".join(f"{k} {v}" for k, v in t["by_class"].items() if v)
    p50, p99 = (quantile(t["latency_buckets"], q) for q in (0.5, 0.99))
    latency = "" if p50 is None or p99 is None else (
        f"  p50 {p50 * 1000:.1f} ms  p99 {p99 * 1000:.1f} ms"
    )  # fmt: skip
    return [f"traffic: {t['requests']} requests  {classes}{latency}".rstrip()]


def format_apps(apps: list[dict[str, Any]]) -> list[str]:
    """The app instances' table of `frontdesk status`."""
    if not apps:
        return []
    rows: list[tuple[str, ...]] = [("instance", "pid", "state", "up", "restarts", "port")]
    for a in apps:
        where = str(a["port"]) if a.get("port") is not None else str(a.get("address", "-"))
        pid = str(a["pid"]) if a.get("pid") is not None else "-"
        rows.append(
            (a["instance"], pid, a["state"], _duration(a["uptime"]), str(a["restarts"]), where)
        )
    return ["", "apps", *_table(rows)]

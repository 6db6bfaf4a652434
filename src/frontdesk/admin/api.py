"""Admin API endpoints for looking: GET /status (with the master's view of pools and
the caches' hit ratios), /pools, /caches, /routes, /config, /metrics, the status page
and the OpenAPI document. (The pool actions are in master/pool_admin.py, purge in
master/purge.py, /apps, app restarts and /reload in master/app_admin.py.)

Every JSON answer is described by `openapi.json` beside this file; the tests validate
each answer against it (tests/integration/test_admin_api.py).
"""

from __future__ import annotations

import json
import time
from importlib.resources import files
from typing import TYPE_CHECKING, Any

from frontdesk.admin.metrics import BUCKETS
from frontdesk.admin.page import asset, page
from frontdesk.admin.prometheus import CONTENT_TYPE, render
from frontdesk.master.admin import AdminRequest, AdminServer, Raw
from frontdesk.pipeline.assemble import route_label

if TYPE_CHECKING:
    from frontdesk.master.workers import Master


def openapi_document() -> dict[str, Any]:
    """The admin API's OpenAPI 3.1 document (shipped in the package)."""
    return dict(json.loads(files("frontdesk.admin").joinpath("openapi.json").read_text()))


def traffic(counters: dict[str, Any]) -> dict[str, Any]:
    """The request counters summed over routes: totals by status class and the latency
    buckets (per bucket, not cumulative; `bounds` in seconds, the last bucket is above
    them). The status page turns two of these into rates and percentiles."""
    by_class = {f"{c}xx": 0 for c in range(1, 6)}
    buckets = [0] * (len(BUCKETS) + 1)
    total = 0
    for _, _, cls, count, _, b in counters.get("requests", []):
        total += count
        key = f"{cls}xx"
        if key in by_class:
            by_class[key] += count
        buckets = [x + y for x, y in zip(buckets, b, strict=True)]
    return {
        "requests": total,
        "by_class": by_class,
        "latency_buckets": buckets,
        "bounds": list(BUCKETS),
        "time": time.time(),
    }


def pools_payload(master: Master, merged: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The workers' view of each pool (merged) with the master's: every server of the
    config (even one no worker has used yet), its admin state and last active checks."""
    rows = {p["pool"]: p for p in merged}
    out = []
    for pool in master.pools:
        seen = rows.get(pool.name, {"pool": pool.name, "balance": pool.config.balance})
        servers = {s["server"]: s for s in seen.get("servers", [])}
        listed = []
        for member in pool.balance.members:
            row = servers.get(member.id) or {
                "server": member.id,
                "weight": member.weight,
                "states": {_master_state(member): 1},
                "in_flight": 0,
                "open": 0,
                "idle": 0,
                "ejections": 0,
                "latency_ewma": 0.0,
            }
            results = list(master.health.results.get((pool.name, member.id), ()))
            row["admin"] = member.admin.value
            row["health"] = [
                {"time": t, "passed": ok, "detail": detail} for t, ok, detail in results
            ]
            row["last_check"] = row["health"][-1] if results else None
            listed.append(row)
        listed += [s for s in servers.values() if s not in listed]
        out.append(
            {
                "pool": pool.name,
                "balance": seen.get("balance", pool.config.balance),
                "health_interval": pool.config.health.interval if pool.config.health.path else None,
                "servers": listed,
            }
        )
    return out


def _master_state(member: Any) -> str:
    if member.admin.value != "active":
        return str(member.admin.value)
    return "up" if member.active.up else "down"


def with_ratios(caches: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each cache and tier with its hit ratio (None before the first lookup)."""
    out = []
    for c in caches:
        tiers = [t | {"hit_ratio": _ratio(t["hits"], t["misses"])} for t in c["tiers"]]
        out.append(c | {"hit_ratio": _ratio(c["hits"], c["misses"]), "tiers": tiers})
    return out


def _ratio(hits: int, misses: int) -> float | None:
    return hits / (hits + misses) if hits + misses else None


def routes_payload(master: Master) -> list[dict[str, Any]]:
    out = []
    for i, r in enumerate(master.config.routes):
        out.append(
            {
                "index": i,
                "name": route_label(r, i),
                "match": r.match.model_dump(mode="json", exclude_defaults=True),
                "action": r.action,
                "pool": r.proxy.pool if r.proxy is not None else None,
                "cache": r.cache,
            }
        )
    return out


async def full_status(master: Master) -> dict[str, Any]:
    """GET /status with the master's pool view and cache ratios (what the page shows)."""
    from frontdesk.master.status import status_payload

    payload = await status_payload(master)
    payload["pools"] = pools_payload(master, payload["pools"])
    payload["caches"] = with_ratios(payload["caches"])
    return payload


def add_observability_routes(admin: AdminServer, master: Master) -> None:
    async def status(req: AdminRequest) -> tuple[int, Any]:
        payload = await full_status(master)
        if "counters" not in req.query.split("&"):
            payload.pop("counters")  # per-route series: only when asked (?counters)
        return 200, payload

    async def pools(req: AdminRequest) -> tuple[int, Any]:
        from frontdesk.master.status import merge_pools

        workers = await master.worker_stats()
        return 200, {"pools": pools_payload(master, merge_pools(workers))}

    async def caches(req: AdminRequest) -> tuple[int, Any]:
        from frontdesk.master.status import merge_caches

        workers = await master.worker_stats()
        return 200, {"caches": with_ratios(merge_caches(workers))}

    async def routes(req: AdminRequest) -> tuple[int, Any]:
        return 200, {"routes": routes_payload(master)}

    async def config(req: AdminRequest) -> tuple[int, Any]:
        return 200, {
            "generation": master.generation,
            "path": master.config_path,
            "listen": [f"{h}:{p}" for h, p in master.sockets_addresses()],
            "workers": master.config.resolved_workers(),
        }

    async def metrics(req: AdminRequest) -> tuple[int, Any]:
        payload = await full_status(master)
        snap = {
            "metrics": payload["counters"],
            "pools": payload["pools"],
            "caches": payload["caches"],
            "workers": payload["workers"],
            "generation": payload["generation"],
            "apps": payload["apps"],
            "rate_limits": payload["rate_limits"],
        }
        return 200, Raw(CONTENT_TYPE, render(snap))

    async def ui(req: AdminRequest) -> tuple[int, Any]:
        return 200, Raw("text/html; charset=utf-8", page())

    async def ui_asset(req: AdminRequest) -> tuple[int, Any]:
        found = asset(req.params["name"])
        if found is None:
            return 404, {"error": f"no such asset: {req.params['name']}"}
        return 200, Raw(*found)

    async def openapi(req: AdminRequest) -> tuple[int, Any]:
        return 200, openapi_document()

    admin.route("GET", "/status", status)
    admin.route("GET", "/pools", pools)
    admin.route("GET", "/caches", caches)
    admin.route("GET", "/routes", routes)
    admin.route("GET", "/config", config)
    admin.route("GET", "/metrics", metrics)
    admin.route("GET", "/ui", ui)
    admin.route("GET", "/ui/{name}", ui_asset)
    admin.route("GET", "/openapi.json", openapi)

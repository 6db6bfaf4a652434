"""`/metrics`: the workers' counters, gathered when scraped, in Prometheus' text format.

The master asks every worker over the control channel for its counters (a "metrics"
message: admin/metrics.py snapshot plus the worker's stats), sums them, and builds the
metric families with `prometheus_client` into a registry made for this one scrape; no
worker does anything for metrics between scrapes but add to its integers.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from frontdesk.admin.metrics import BUCKETS

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
STATES = ("up", "ejected", "down", "drain", "disabled")


def _buckets(counts: list[int]) -> list[tuple[str, float]]:
    """Per-bucket counts → Prometheus' cumulative (le, count) pairs, +Inf last."""
    out: list[tuple[str, float]] = []
    running = 0
    for bound, n in zip([*map(str, BUCKETS), "+Inf"], counts, strict=True):
        running += n
        out.append((bound, running))
    return out


class _Snapshot(Collector):
    """The metric families of one gathered snapshot (see render)."""

    def __init__(self, snap: dict[str, Any]) -> None:
        self.snap = snap

    def collect(self) -> Iterator[Metric]:
        yield from _requests(self.snap["metrics"].get("requests", []))
        yield from _upstream(self.snap["metrics"].get("upstream", []), self.snap["pools"])
        yield from _caches(self.snap["caches"])
        yield from _process(self.snap)
        yield from _apps(self.snap.get("apps", []))
        yield from _rate_limits(self.snap.get("rate_limits", []))


def _requests(rows: list[list[Any]]) -> Iterable[Metric]:
    total = CounterMetricFamily(
        "frontdesk_requests",
        "Requests answered, by route, method and status class.",
        labels=["route", "method", "status"],
    )
    latency = HistogramMetricFamily(
        "frontdesk_request_duration_seconds",
        "Time from a request's complete head to the end of its answer.",
        labels=["route", "method", "status"],
    )
    for route, method, cls, count, seconds, buckets in rows:
        labels = [route, method, f"{cls}xx"]
        total.add_metric(labels, count)
        latency.add_metric(labels, _buckets(buckets), seconds)
    return [total, latency]


def _upstream(rows: list[list[Any]], pools: list[dict[str, Any]]) -> Iterable[Metric]:
    responses = CounterMetricFamily(
        "frontdesk_upstream_responses",
        "Responses from each backend server, by status class.",
        labels=["pool", "server", "status"],
    )
    errors = CounterMetricFamily(
        "frontdesk_upstream_errors",
        "Exchanges with a backend server that got no response (refused, reset, timeout).",
        labels=["pool", "server"],
    )
    latency = HistogramMetricFamily(
        "frontdesk_upstream_response_seconds",
        "Time from sending a request to a backend server to its response head.",
        labels=["pool", "server"],
    )
    for pool, server, by_class, failed, seconds, buckets in rows:
        for i, n in enumerate(by_class):
            if n:
                responses.add_metric([pool, server, f"{i + 1}xx"], n)
        errors.add_metric([pool, server], failed)
        latency.add_metric([pool, server], _buckets(buckets), seconds)
    state = GaugeMetricFamily(
        "frontdesk_upstream_state",
        "Workers that see each backend server in each state (up, ejected, down, drain, disabled).",
        labels=["pool", "server", "state"],
    )
    up = GaugeMetricFamily(
        "frontdesk_upstream_up",
        "1 when every worker sees the backend server up, else 0.",
        labels=["pool", "server"],
    )
    in_flight = GaugeMetricFamily(
        "frontdesk_upstream_in_flight",
        "Requests being forwarded to each backend server now.",
        labels=["pool", "server"],
    )
    for p in pools:
        for s in p["servers"]:
            labels = [p["pool"], s["server"]]
            for name in STATES:
                state.add_metric([*labels, name], s["states"].get(name, 0))
            up.add_metric(labels, 1 if set(s["states"]) == {"up"} else 0)
            in_flight.add_metric(labels, s["in_flight"])
    return [responses, errors, latency, state, up, in_flight]


def _caches(caches: list[dict[str, Any]]) -> Iterable[Metric]:
    lookups = CounterMetricFamily(
        "frontdesk_cache_lookups",
        "Cache lookups by result (hit, miss) in each tier.",
        labels=["cache", "tier", "result"],
    )
    stores = CounterMetricFamily(
        "frontdesk_cache_stores",
        "Responses written to each tier (new entries and replaced variants).",
        labels=["cache", "tier"],
    )
    collapsed = CounterMetricFamily(
        "frontdesk_cache_collapsed",
        "Requests that waited for another request's fetch of the same key.",
        labels=["cache"],
    )
    entries = GaugeMetricFamily(
        "frontdesk_cache_entries", "Entries stored in each tier.", labels=["cache", "tier"]
    )
    size = GaugeMetricFamily(
        "frontdesk_cache_bytes", "Bytes stored in each tier.", labels=["cache", "tier"]
    )
    tier_up = GaugeMetricFamily(
        "frontdesk_cache_tier_up", "1 when the tier is reachable.", labels=["cache", "tier"]
    )
    for c in caches:
        collapsed.add_metric([c["cache"]], c["collapsed"])
        for t in c["tiers"]:
            labels = [c["cache"], t["name"]]
            lookups.add_metric([*labels, "hit"], t.get("hits", 0))
            lookups.add_metric([*labels, "miss"], t.get("misses", 0))
            stores.add_metric(labels, t.get("stores", 0))
            entries.add_metric(labels, t["entries"])
            size.add_metric(labels, t["bytes"])
            tier_up.add_metric(labels, 1 if t["up"] else 0)
    return [lookups, stores, collapsed, entries, size, tier_up]


def _process(snap: dict[str, Any]) -> Iterable[Metric]:
    workers = snap["workers"]
    conns = GaugeMetricFamily(
        "frontdesk_open_connections", "Client connections open, over all workers."
    )
    conns.add_metric([], sum(int(w.get("connections", 0)) for w in workers))
    count = GaugeMetricFamily("frontdesk_workers", "Worker processes answering.")
    count.add_metric([], sum(1 for w in workers if "error" not in w))
    rss = GaugeMetricFamily("frontdesk_worker_rss_bytes", "Resident memory of the workers.")
    rss.add_metric([], sum(int(w.get("rss_bytes", 0)) for w in workers))
    gen = GaugeMetricFamily("frontdesk_config_generation", "Config generation serving.")
    gen.add_metric([], snap["generation"])
    return [conns, count, rss, gen]


def _apps(apps: list[dict[str, Any]]) -> Iterable[Metric]:
    restarts = CounterMetricFamily(
        "frontdesk_app_restarts", "Restarts of each app's instances.", labels=["app"]
    )
    running = GaugeMetricFamily(
        "frontdesk_app_instances_ready",
        "Instances of each app ready (in its pool).",
        labels=["app"],
    )
    names = sorted({row["app"] for row in apps})
    for name in names:
        rows = [r for r in apps if r["app"] == name]
        restarts.add_metric([name], sum(int(r["restarts"]) for r in rows))
        running.add_metric([name], sum(1 for r in rows if r["state"] == "ready"))
    return [restarts, running]


def _rate_limits(rows: list[dict[str, Any]]) -> Iterable[Metric]:
    keys = GaugeMetricFamily(
        "frontdesk_rate_limit_keys",
        "Keys (clients) each rate-limited route's buckets track now.",
        labels=["route"],
    )
    most = GaugeMetricFamily(
        "frontdesk_rate_limit_max_keys",
        "The most keys each rate-limited route's buckets hold (memory stays bounded).",
        labels=["route"],
    )
    for r in rows:
        keys.add_metric([r["route"]], r["keys"])
        most.add_metric([r["route"]], r["max_keys"])
    return [keys, most]


def render(snap: dict[str, Any]) -> bytes:
    """The text exposition of one gathered snapshot (master/status.py `gather`)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Snapshot(snap))
    return generate_latest(registry)

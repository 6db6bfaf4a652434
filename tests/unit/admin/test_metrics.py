"""admin/metrics.py and admin/prometheus.py: the workers' counters, their merge, the
percentiles read from buckets, and the text exposition parsed back by prometheus_client."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families

from frontdesk.admin.metrics import BUCKETS, RequestMetrics, UpstreamSeries, merge, quantile
from frontdesk.admin.prometheus import render


def test_observe_keys_by_route_method_and_status_class() -> None:
    m = RequestMetrics()
    m.observe("api", b"GET", 200, 0.002)
    m.observe("api", b"GET", 204, 0.0004)
    m.observe("api", b"BREW", 500, 3.0)  # an unknown method: "other", never a new label
    snap = m.snapshot([("api", "GET", 200, 5), ("static", "HEAD", 200, 0)], [])
    rows = {(r[0], r[1], r[2]): r for r in snap["requests"]}
    assert set(rows) == {("api", "GET", 2), ("api", "other", 5)}
    get = rows[("api", "GET", 2)]
    assert get[3] == 7  # 2 observed + 5 from the fast lane
    assert get[5][0] == 6 and get[5][BUCKETS.index(0.0025)] == 1
    assert rows[("api", "other", 5)][5][BUCKETS.index(5.0)] == 1


def test_merge_sums_workers() -> None:
    a, b = RequestMetrics(), RequestMetrics()
    a.observe("r", b"GET", 200, 0.01)
    b.observe("r", b"GET", 200, 0.01)
    b.observe("r", b"POST", 404, 0.01)
    up = UpstreamSeries()
    up.answered(503, 0.2)
    up.failed()
    merged = merge([a.snapshot([], [("p", "s:1", up)]), b.snapshot([], [("p", "s:1", up)])])
    rows = {(r[0], r[1], r[2]): r[3] for r in merged["requests"]}
    assert rows == {("r", "GET", 2): 2, ("r", "POST", 4): 1}
    ((pool, server, classes, errors, seconds, buckets),) = merged["upstream"]
    assert (pool, server, classes, errors) == ("p", "s:1", [0, 0, 0, 0, 2], 2)
    assert abs(seconds - 0.4) < 1e-9 and sum(buckets) == 2


def test_quantile_interpolates_within_the_bucket() -> None:
    buckets = [0] * (len(BUCKETS) + 1)
    assert quantile(buckets, 0.5) is None
    i = BUCKETS.index(0.01)
    buckets[i] = 10  # all between 5 ms and 10 ms
    assert quantile(buckets, 0.5) == 0.005 + 0.005 * 0.5
    buckets[-1] = 1  # above the last bound: the bound is all that is known
    assert quantile(buckets, 1.0) == BUCKETS[-1]


@given(st.lists(st.integers(0, 50), min_size=len(BUCKETS) + 1, max_size=len(BUCKETS) + 1))
def test_quantiles_are_ordered_and_bounded(buckets: list[int]) -> None:
    p50, p99 = quantile(buckets, 0.5), quantile(buckets, 0.99)
    if sum(buckets) == 0:
        assert p50 is None and p99 is None
    else:
        assert p50 is not None and p99 is not None
        assert 0 <= p50 <= p99 <= BUCKETS[-1]


def test_render_is_valid_prometheus_text() -> None:
    m = RequestMetrics()
    for s in (0.0001, 0.003, 0.2, 20.0):
        m.observe("api", b"GET", 200, s)
    up = UpstreamSeries()
    up.answered(200, 0.01)
    snap = {
        "metrics": merge([m.snapshot([], [("app", "10.0.0.1:80", up)])]),
        "pools": [
            {
                "pool": "app",
                "servers": [{"server": "10.0.0.1:80", "states": {"up": 2}, "in_flight": 3}],
            }
        ],
        "caches": [
            {
                "cache": "main",
                "collapsed": 1,
                "tiers": [
                    {"name": "memory", "hits": 5, "misses": 2, "entries": 3, "bytes": 900}
                    | {"stores": 4, "up": True}
                ],
            }
        ],
        "workers": [{"connections": 4, "rss_bytes": 10}, {"error": "no answer"}],
        "generation": 3,
        "rate_limits": [{"route": "api", "keys": 7, "max_keys": 100, "shared": True}],
        "apps": [
            {"app": "web", "restarts": 2, "state": "ready"},
            {"app": "web", "restarts": 1, "state": "backoff"},
        ],
    }
    families = {f.name: f for f in text_string_to_metric_families(render(snap).decode())}
    hist = families["frontdesk_request_duration_seconds"]
    count = next(s for s in hist.samples if s.name.endswith("_count"))
    inf = next(s for s in hist.samples if s.labels.get("le") == "+Inf")
    assert count.value == inf.value == 4
    le_10ms = next(s for s in hist.samples if s.labels.get("le") == "0.01")
    assert le_10ms.value == 2  # cumulative
    assert families["frontdesk_upstream_up"].samples[0].value == 1
    assert families["frontdesk_workers"].samples[0].value == 1
    assert families["frontdesk_open_connections"].samples[0].value == 4
    (restarts,) = families["frontdesk_app_restarts"].samples
    assert restarts.value == 3
    (ready,) = families["frontdesk_app_instances_ready"].samples
    assert ready.value == 1
    hits = [s for s in families["frontdesk_cache_lookups"].samples if s.labels["result"] == "hit"]
    assert hits[0].value == 5
    (stores,) = [s for s in families["frontdesk_cache_stores"].samples if s.name.endswith("_total")]
    assert stores.value == 4 and stores.labels == {"cache": "main", "tier": "memory"}
    (keys,) = families["frontdesk_rate_limit_keys"].samples
    assert keys.value == 7 and keys.labels == {"route": "api"}
    assert families["frontdesk_rate_limit_max_keys"].samples[0].value == 100

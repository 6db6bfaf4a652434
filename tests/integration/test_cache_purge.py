"""Purges reach every worker: `frontdesk purge` (URL, --prefix, --tag), the PURGE method
and §4.4 invalidations, with two workers sharing one memory tier (each with a hot copy
of its own, which must not outlive the purge)."""

from __future__ import annotations

import json
import subprocess
from urllib.parse import quote

import pytest
from origin_helpers import cached_routes, seen, wait_stored

CACHE = """
[cache.main]
memory = "16MB"
purge_from = ["127.0.0.1"]

[admin]
listen = "unix:{sock}"
"""


@pytest.fixture(scope="module")
def srv(module_server, origin, tmp_path_factory):
    sock = tmp_path_factory.mktemp("admin") / "admin.sock"
    return module_server(cached_routes(origin.address, CACHE.format(sock=sock)), workers=2)


def fill(srv, u: str, path: str) -> set[bytes]:
    """Store the URL and serve it on new connections (both workers, so both hold a hot
    copy): the one body they all give."""
    bodies = {srv.get(u)[1]}
    wait_stored(srv, u)
    bodies |= {srv.get(u)[1] for _ in range(20)}
    assert len(bodies) == 1, bodies  # one cache: stored once, a hit in both workers
    assert seen(srv, path) == 1
    return bodies


def after(srv, u: str, n: int = 30) -> set[bytes]:
    return {srv.get(u)[1] for _ in range(n)}


def cli(srv, *args: str) -> subprocess.CompletedProcess[str]:
    return srv.cli("purge", *args)


def test_purge_url_reaches_every_worker(srv):
    u = "/c/p-url?cc=" + quote("max-age=600")
    old = fill(srv, u, "/c/p-url")
    result = cli(srv, f"http://127.0.0.1:{srv.port}{u}")
    assert result.returncode == 0, result.stderr
    assert "purged" in result.stdout
    assert not after(srv, u) & old


def test_purge_by_tag(srv):
    u = "/c/p-tag?cc=" + quote("max-age=600") + "&h=" + quote("Surrogate-Key:news front")
    r, _ = srv.get(u)
    assert r.getheader("Surrogate-Key") is None  # tags are for the cache, not clients
    wait_stored(srv, u)
    old = fill(srv, u, "/c/p-tag")
    result = cli(srv, "--tag", "front")
    assert result.returncode == 0, result.stderr
    assert not after(srv, u) & old


def test_purge_by_prefix(srv):
    u = "/c/p-prefix/a?cc=" + quote("max-age=600")
    old = fill(srv, u, "/c/p-prefix/a")
    result = cli(srv, "--prefix", f"http://127.0.0.1:{srv.port}/c/p-prefix/")
    assert result.returncode == 0, result.stderr
    assert not after(srv, u) & old


def test_purge_method_reaches_the_other_worker(srv):
    u = "/c/p-method?cc=" + quote("max-age=600")
    old = fill(srv, u, "/c/p-method")
    r, _ = srv.get(u, method="PURGE")
    assert r.status == 200
    assert not after(srv, u) & old


def test_invalidation_reaches_the_other_worker(srv):
    u = "/c/p-post?cc=" + quote("max-age=600")
    old = fill(srv, u, "/c/p-post")
    r, _ = srv.get(u, method="DELETE")
    assert r.status == 200
    assert not after(srv, u) & old


def test_purge_errors_are_clear(srv):
    result = cli(srv)
    assert result.returncode == 2 and "give URLs" in result.stderr
    result = cli(srv, "not-a-url")
    assert result.returncode == 1 and "absolute URL" in result.stderr
    result = cli(srv, "--cache", "nope", "--tag", "x")
    assert result.returncode == 1 and "no cache 'nope'" in result.stderr


def test_status_shows_the_cache_over_both_workers(srv):
    u = "/c/p-status?cc=" + quote("max-age=600")
    fill(srv, u, "/c/p-status")
    result = srv.cli("status", "--json")
    assert result.returncode == 0, result.stderr
    (cache,) = json.loads(result.stdout)["caches"]
    assert cache["cache"] == "main" and cache["hits"] >= 20 and cache["misses"] >= 2
    (memory,) = cache["tiers"]
    assert memory["name"] == "memory" and memory["entries"] >= 1
    text = srv.cli("status").stdout
    assert "cache main:" in text and "hit)" in text

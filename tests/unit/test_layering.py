"""The sans-I/O rule: pure modules never import asyncio or os, nor read the clock."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "frontdesk"
# cache/: every policy module is pure; the storage tiers hold the clock, files, threads
# and sockets (store.py, the interface, and s3fifo.py, the eviction rule, stay pure), and
# the shell on the proxy (action, fetch, runtime) does the I/O the policy decides.
CACHE_IO = {
    "memory.py",
    "shared.py",
    "board.py",
    "disk.py",
    "redis_tier.py",
    "tiered.py",
    "action.py",
    "fetch.py",
    "runtime.py",
    "reply.py",
    "purge.py",
}
PURE = (
    sorted((SRC / "http").glob("*.py"))
    + sorted(p for p in (SRC / "cache").glob("*.py") if p.name not in CACHE_IO)
    + sorted((SRC / "balance").glob("*.py"))
    + [SRC / "proxy" / name for name in ("forward.py", "rewrite.py")]
)
BANNED_MODULES = {"asyncio", "os", "socket", "time", "uvloop", "selectors"}
BANNED_CALLS = {"time", "monotonic", "now", "utcnow", "today", "perf_counter"}


@pytest.mark.parametrize("path", PURE, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_pure_module_has_no_io(path: Path) -> None:
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            names = {(node.module or "").split(".")[0]}
        else:
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                assert node.func.attr not in BANNED_CALLS, f"{path.name} reads the clock"
            continue
        assert not names & BANNED_MODULES, f"{path.name} imports {names & BANNED_MODULES}"


def test_pure_modules_exist() -> None:
    assert all(p.exists() for p in PURE)
    names = {f"{p.parent.name}/{p.name}" for p in PURE}
    assert {"cache/policy.py", "cache/keys.py", "cache/directives.py"} <= names
    assert {"cache/store.py", "cache/s3fifo.py", "cache/record.py"} <= names
    assert {"balance/policies.py", "balance/pool.py", "balance/health.py"} <= names
    assert {"proxy/forward.py", "proxy/rewrite.py"} <= names

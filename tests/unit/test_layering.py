"""The sans-I/O rule: pure modules never import asyncio or os, nor read the clock."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "frontdesk"
# cache/: every policy module is pure; the storage tiers (with the shared board and the
# fetch leases) hold the clock, files, threads and sockets (store.py, the interface, and
# s3fifo.py, the eviction rule, stay pure), and the shell on the proxy (action, fetch,
# write_through, runtime) does the I/O the policy decides.
CACHE_IO = {
    "memory.py",
    "shared.py",
    "board.py",
    "leases.py",
    "disk.py",
    "redis_tier.py",
    "tiered.py",
    "action.py",
    "fetch.py",
    "runtime.py",
    "reply.py",
    "purge.py",
    "write_through.py",
}
PURE = (
    sorted((SRC / "http").glob("*.py"))
    + sorted(p for p in (SRC / "cache").glob("*.py") if p.name not in CACHE_IO)
    + sorted((SRC / "balance").glob("*.py"))
    + [SRC / "proxy" / name for name in ("forward.py", "rewrite.py")]
    + [SRC / "server" / name for name in ("h2fields.py", "h2guard.py")]
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


# The server shell knows only the Action interface (STYLE.md habit 13): it never
# imports a feature, nor the pipeline that composes them, not even for type hints.
FEATURES = {"static", "proxy", "cache", "access", "balance", "pipeline", "master", "config"}
SHELL = sorted((SRC / "server").glob("*.py"))


def _frontdesk_imports(path: Path) -> set[str]:
    """The frontdesk subpackages `path` imports (absolute or relative, anywhere in it)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "frontdesk" and len(parts) > 1:
                    found.add(parts[1])
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level == 0 and module.startswith("frontdesk."):
                found.add(module.split(".")[1])
            elif node.level == 2:  # from ..proxy import x
                found.add(module.split(".")[0] if module else "")
                if not module:
                    found.update(alias.name for alias in node.names)
    return found


@pytest.mark.parametrize("path", SHELL, ids=lambda p: f"server/{p.name}")
def test_server_shell_imports_no_feature(path: Path) -> None:
    assert not _frontdesk_imports(path) & FEATURES, f"server/{path.name} imports a feature"


def test_layering_check_sees_imports(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from frontdesk.cache.runtime import CacheRuntime\n"
        "def f():\n    from ..static import action\n    import frontdesk.proxy.pool\n"
    )
    assert _frontdesk_imports(bad) == {"cache", "static", "proxy"}
    assert len(SHELL) > 5


def test_pipeline_builds_every_chain() -> None:
    # Chains are composed in one module above the features; the worker process (not
    # the shell) calls it.
    worker = _frontdesk_imports(SRC / "worker.py")
    assert "pipeline" in worker
    assembled = _frontdesk_imports(SRC / "pipeline" / "assemble.py")
    assert "server" in assembled

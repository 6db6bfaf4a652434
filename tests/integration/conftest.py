"""Process-level fixtures; the helpers themselves live in proc_helpers.py."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from proc_helpers import Server, free_port, start_server


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., Server]]:
    """Factory: serve(text=None, port=..., **kw) → a running Server, stopped at teardown."""
    servers: list[Server] = []

    def _serve(text: str | None = None, port: int | None = None, **kw: object) -> Server:
        server = start_server(tmp_path, text, port or free_port(), **kw)  # type: ignore[arg-type]
        servers.append(server)
        return server

    yield _serve
    for s in servers:
        s.terminate()

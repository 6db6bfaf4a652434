"""The client of an unsafe request gets nothing before its invalidation is done (RFC 9111
§4.4, write_through.py): otherwise a client that asks again at once can be served, from
another worker, the entry being removed."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

from cache_helpers import request

from frontdesk.cache.options import CacheOptions
from frontdesk.cache.write_through import InvalidatingWriter


class Runtime:
    """A cache whose purge ends when the test says so."""

    def __init__(self) -> None:
        self.options = CacheOptions()
        self.purged: list[tuple[str, ...]] = []
        self.go = asyncio.Event()

    async def purge(self, *, keys: tuple[str, ...] = ()) -> int:
        await self.go.wait()
        self.purged.append(keys)
        return len(keys)


class Client:
    """The client's writer: what reached the client, in order."""

    conn = SimpleNamespace(flow_peer=None)
    request = SimpleNamespace(headers=[])
    head_only = False

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    def start_forwarded(self, status: int, *_: Any) -> None:
        self.calls.append(("head", status))

    def write(self, data: bytes) -> None:
        self.calls.append(("body", data))

    def end(self, trailers: bytes = b"") -> None:
        self.calls.append(("end", trailers))

    async def drain(self) -> None:
        self.calls.append(("drain", None))


def writer(method: str = "DELETE") -> tuple[InvalidatingWriter, Runtime, Client]:
    runtime, client = Runtime(), Client()
    w = InvalidatingWriter(client, runtime, request(method, "/items/1"))  # type: ignore[arg-type]
    return w, runtime, client


def test_the_response_waits_for_the_purge() -> None:
    async def run() -> None:
        w, runtime, client = writer()
        w.start_forwarded(200, b"", True, True, [(b"location", b"/items")])
        w.write(b"gone")
        w.end()
        for _ in range(5):
            await asyncio.sleep(0)
        assert client.calls == [] and runtime.purged == []
        runtime.go.set()
        await w.settled()
        assert runtime.purged == [("https://example.com/items/1", "https://example.com/items")]
        assert client.calls == [("head", 200), ("body", b"gone"), ("end", b"")]
        w.write(b"after")  # nothing held any more: straight through
        assert client.calls[-1] == ("body", b"after")

    asyncio.run(run())


def test_settled_means_released_even_when_the_purge_ended_first() -> None:
    """The purge task can be done while its done callbacks (the release) are still to
    run: settled() must wait for the release, not the task."""

    async def run() -> None:
        w, runtime, client = writer()
        runtime.go.set()
        w.start_forwarded(200, b"", True, True, [])
        w.end()
        await asyncio.sleep(0)  # the purge runs and ends; the release is only scheduled
        await w.settled()
        assert client.calls == [("head", 200), ("end", b"")]

    asyncio.run(run())


def test_drain_waits_for_the_purge_too() -> None:
    async def run() -> None:
        w, runtime, client = writer()
        w.start_forwarded(204, b"", True, True, [])
        draining = asyncio.ensure_future(w.drain())
        await asyncio.sleep(0)
        assert not draining.done()
        runtime.go.set()
        await draining
        assert client.calls == [("head", 204), ("drain", None)]

    asyncio.run(run())


def test_an_error_answer_invalidates_nothing_and_is_not_held() -> None:
    async def run() -> None:
        w, runtime, client = writer()
        w.start_forwarded(409, b"", True, True, [])
        w.write(b"conflict")
        assert client.calls == [("head", 409), ("body", b"conflict")]
        await w.settled()
        assert runtime.purged == []

    asyncio.run(run())

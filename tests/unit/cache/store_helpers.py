"""Entries for the storage-tier tests: real entries from on_response, varied by key,
Vary value, tags and lifetime."""

from __future__ import annotations

from cache_helpers import T0, h, request, stored

from frontdesk.cache.entry import Entry
from frontdesk.cache.store import CacheStore


def entry(
    path: str = "/a",
    *,
    tags: tuple[str, ...] = (),
    max_age: int = 60,
    lang: str | None = None,
    etag: str | None = None,
    body: int = 10,
    at: float = T0,
    must_revalidate: bool = False,
) -> Entry:
    """A stored GET response for https://example.com{path}; `must_revalidate`: one that
    may never be served stale, so without a validator it is useless once expired."""
    cc = f"max-age={max_age}, must-revalidate" if must_revalidate else f"max-age={max_age}"
    headers = h(cache_control=cc)
    req_headers = []
    if lang is not None:
        headers.append((b"vary", b"accept-language"))
        req_headers.append((b"accept-language", lang.encode()))
    if etag is not None:
        headers.append((b"etag", etag.encode()))
    if tags:
        headers.append((b"surrogate-key", " ".join(tags).encode()))
    return stored(headers, req=request(path=path, headers=req_headers), body=body, at=at)


async def put(store: CacheStore, e: Entry, body: bytes, chunk: int = 7) -> bool:
    """Stream `body` into the store in chunks of `chunk` bytes and commit."""
    w = store.writer(e)
    for i in range(0, len(body), chunk):
        if not await w.write(body[i : i + chunk]):
            break
    return await w.commit()

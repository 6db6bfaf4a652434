"""A stable, versioned byte form of an Entry, for the tiers that store outside memory.

The disk tier and the Redis tier write entries that another process (a restarted
worker, another instance, another frontdesk version) reads back, so the form is JSON
with a version number rather than pickle: it cannot run code, and a reader that does
not know a version treats the record as a miss instead of guessing.

Header bytes are stored as latin-1 strings (every byte maps to one code point, so the
round trip is exact). `cc` is not stored: it is recomputed on load from the stored
field it was read from (Cache-Control, or the targeted field named by `cc_field`).
`ref` is the reading tier's own business.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from .directives import parse_cache_control
from .entry import Entry
from .fields import FieldTuple, get_all
from .store import Variant
from .targeted import targeted_directives

VERSION = 1


class RecordError(ValueError):
    """A record that is not a version-1 entry (corrupt, or from another version)."""


def _b(value: bytes) -> str:
    return value.decode("latin-1")


def _fields(fields: FieldTuple) -> list[list[str]]:
    return [[_b(k), _b(v)] for k, v in fields]


def _unfields(raw: Any) -> FieldTuple:
    return tuple((k.encode("latin-1"), v.encode("latin-1")) for k, v in raw)


def dump_entry(entry: Entry) -> bytes:
    """The entry as compact JSON bytes (version 1)."""
    record = {
        "v": VERSION,
        "key": entry.key,
        "method": _b(entry.method),
        "status": entry.status,
        "headers": _fields(entry.headers),
        "vary": None if entry.vary is None else [_b(n) for n in entry.vary],
        "vary_values": [None if v is None else _b(v) for v in entry.vary_values],
        "request_time": entry.request_time,
        "response_time": entry.response_time,
        "date": entry.date,
        "initial_age": entry.initial_age,
        "lifetime": entry.lifetime,
        "heuristic": entry.heuristic,
        "etag": None if entry.etag is None else _b(entry.etag),
        "last_modified": entry.last_modified,
        "content_length": entry.content_length,
        "tags": list(entry.tags),
        "served": _fields(entry.served),
        "invalid": entry.invalid,
    }
    if entry.cc_field != b"cache-control":
        record["cc_field"] = _b(entry.cc_field)  # a targeted field (RFC 9213)
    return json.dumps(record, separators=(",", ":")).encode()


def load_entry(data: bytes, ref: object = None) -> Entry:
    """The entry dump_entry wrote; RecordError for anything else."""
    try:
        r = json.loads(data)
        if not isinstance(r, dict) or r.get("v") != VERSION:
            raise RecordError("not a version-1 cache record")
        headers = _unfields(r["headers"])
        vary = r["vary"]
        cc_field = str(r.get("cc_field", "cache-control")).encode("latin-1")
        cc = None
        if cc_field != b"cache-control":
            cc = targeted_directives(get_all(headers, cc_field))
        if cc is None:
            cc_field = b"cache-control"
            cc = parse_cache_control(get_all(headers, cc_field))
        return Entry(
            key=str(r["key"]),
            method=r["method"].encode("latin-1"),
            status=int(r["status"]),
            headers=headers,
            cc=cc,
            vary=None if vary is None else tuple(n.encode("latin-1") for n in vary),
            vary_values=tuple(None if v is None else v.encode("latin-1") for v in r["vary_values"]),
            request_time=float(r["request_time"]),
            response_time=float(r["response_time"]),
            date=float(r["date"]),
            initial_age=float(r["initial_age"]),
            lifetime=float(r["lifetime"]),
            heuristic=bool(r["heuristic"]),
            etag=None if r["etag"] is None else r["etag"].encode("latin-1"),
            last_modified=None if r["last_modified"] is None else float(r["last_modified"]),
            content_length=int(r["content_length"]),
            tags=tuple(str(t) for t in r["tags"]),
            served=_unfields(r["served"]),
            invalid=bool(r["invalid"]),
            ref=ref,
            cc_field=cc_field,
        )
    except RecordError:
        raise
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise RecordError(f"unreadable cache record: {exc}") from exc


def variant_id(variant: Variant, method: bytes) -> str:
    """A short stable name for a variant under its key (file and Redis key names).

    The method is part of it: a stored HEAD response and the GET one are different
    entries under the same primary key (keys.py).
    """
    names, values = variant
    h = hashlib.blake2b(digest_size=12)
    h.update(method + b"\n")
    if names is None:
        h.update(b"-")
    for name in names or ():
        h.update(name + b"\n")
    for value in values:
        h.update(b"\x00" if value is None else b"=" + value + b"\n")
    return h.hexdigest()


def key_id(key: str) -> str:
    """A fixed-length name for a primary key (keys can be long and hold any byte)."""
    return hashlib.blake2b(key.encode("utf-8", "surrogateescape"), digest_size=16).hexdigest()

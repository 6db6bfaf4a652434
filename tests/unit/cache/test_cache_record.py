"""The versioned byte form of an Entry: exact round trip; other versions are refused."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st
from store_helpers import entry

from frontdesk.cache.record import RecordError, dump_entry, key_id, load_entry, variant_id


def test_round_trip_is_exact() -> None:
    e = entry("/p?q=1", tags=("a", "b"), lang="de", etag='"x"', body=123)
    e = replace(e, invalid=True, headers=e.headers + ((b"x-bin", bytes(range(128, 256))),))
    back = load_entry(dump_entry(e), ref="r")
    assert back == replace(e, ref="r")
    assert back.cc == e.cc


@given(value=st.binary(max_size=40), lifetime=st.floats(0, 1e9))
def test_round_trip_any_header_bytes(value: bytes, lifetime: float) -> None:
    base = entry()
    fields = (*base.headers, (b"x", value))
    e = replace(base, headers=fields, served=fields, lifetime=lifetime)
    assert load_entry(dump_entry(e)) == e


@pytest.mark.parametrize(
    "data", [b"", b"{", b"[]", json.dumps({"v": 2}).encode(), json.dumps({"v": 1}).encode()]
)
def test_anything_else_is_refused(data: bytes) -> None:
    with pytest.raises(RecordError):
        load_entry(data)


def test_ids_are_stable_and_tell_variants_and_methods_apart() -> None:
    de, fr = entry(lang="de"), entry(lang="fr")
    assert variant_id(de.variant, b"GET") == variant_id(entry(lang="de").variant, b"GET")
    assert variant_id(de.variant, b"GET") != variant_id(fr.variant, b"GET")
    assert variant_id(de.variant, b"GET") != variant_id(de.variant, b"HEAD")
    assert variant_id((None, ()), b"GET") != variant_id(((), ()), b"GET")
    assert len(key_id("x" * 10000)) == 32

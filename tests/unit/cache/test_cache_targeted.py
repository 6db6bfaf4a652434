"""Targeted cache control (RFC 9213): CDN-Cache-Control, or a field of the cache's own,
over Cache-Control and Expires, in either direction."""

from __future__ import annotations

import pytest
from cache_helpers import T0, date, on, response

from frontdesk.cache.options import CacheOptions
from frontdesk.cache.record import dump_entry, load_entry
from frontdesk.cache.storage import StoreReason
from frontdesk.cache.targeted import targeted_directives

OWN = CacheOptions(targeted_fields=(b"frontdesk-cache-control", b"cdn-cache-control"))


def fields(**named: str) -> list[tuple[bytes, bytes]]:
    return [(k.replace("_", "-").encode(), v.encode()) for k, v in named.items()]


@pytest.mark.parametrize(
    ("cc", "cdn", "stored", "lifetime"),
    [
        # less caching than Cache-Control says
        ("max-age=600", "private", False, None),
        ("max-age=600", "no-store", False, None),
        ("max-age=600", "max-age=5", True, 5.0),
        ("s-maxage=600", "s-maxage=5", True, 5.0),
        # more caching than Cache-Control says
        ("private", "max-age=60", True, 60.0),
        ("no-store", "max-age=60", True, 60.0),
        ("no-cache", "max-age=60", True, 60.0),
        ("max-age=0", "s-maxage=60", True, 60.0),
    ],
)
def test_cdn_cache_control_wins_rfc9213_2_1(
    cc: str, cdn: str, stored: bool, lifetime: float | None
) -> None:
    d = on(response(headers=fields(cache_control=cc, cdn_cache_control=cdn)))
    assert d.store is stored
    if d.entry is not None:
        assert d.entry.lifetime == lifetime
        assert d.entry.cc_field == b"cdn-cache-control"


def test_cdn_no_cache_means_validate_rfc9213_2_1() -> None:
    headers = fields(cache_control="max-age=600", cdn_cache_control="no-cache", etag='"v"')
    d = on(response(headers=headers))
    assert d.entry is not None and d.entry.cc.no_cache


def test_expires_ignored_when_a_targeted_field_applies_rfc9213_2_1() -> None:
    headers = fields(expires=date(T0 + 600), cdn_cache_control="public", etag='"v"')
    d = on(response(headers=headers))
    assert d.entry is not None and d.entry.lifetime == 0.0  # no max-age: Expires unread
    d = on(response(headers=fields(expires=date(T0 + 600), etag='"v"')))
    assert d.entry is not None and d.entry.lifetime == 600.0


@pytest.mark.parametrize("bad", ["", "Max-Age=5", "max-age=5,", "max-age=5 6", '"x"'])
def test_invalid_targeted_field_is_ignored_rfc9213_2_2(bad: str) -> None:
    """A value that is not a valid, non-empty Dictionary: Cache-Control decides."""
    assert targeted_directives([bad.encode()]) is None
    d = on(response(headers=fields(cache_control="max-age=60", cdn_cache_control=bad)))
    assert d.entry is not None and d.entry.lifetime == 60.0
    assert d.entry.cc_field == b"cache-control"


@pytest.mark.parametrize("value", ["max-age=1.5", "max-age=-1", 'max-age="x"', "max-age=:AA==:"])
def test_unreadable_max_age_in_a_targeted_field_is_stale_rfc9111_4_2_1(value: str) -> None:
    d = on(response(headers=fields(cache_control="max-age=600", cdn_cache_control=value)))
    assert d.entry is None or d.entry.lifetime == 0.0


def test_own_targeted_field_first_then_cdn_rfc9213_2_1() -> None:
    headers = fields(
        cache_control="no-store",
        cdn_cache_control="max-age=30",
        frontdesk_cache_control="max-age=90",
    )
    d = on(response(headers=headers), options=OWN)
    assert d.entry is not None and d.entry.lifetime == 90.0
    assert d.entry.cc_field == b"frontdesk-cache-control"
    # Without the config, the field is nobody's: CDN-Cache-Control decides.
    d = on(response(headers=headers))
    assert d.entry is not None and d.entry.lifetime == 30.0


def test_own_field_private_refuses_storage() -> None:
    headers = fields(cdn_cache_control="max-age=30", frontdesk_cache_control="private")
    assert on(response(headers=headers), options=OWN).reason is StoreReason.PRIVATE


def test_record_round_trip_keeps_the_targeted_directives() -> None:
    d = on(
        response(
            headers=fields(
                cache_control="no-store", cdn_cache_control="max-age=60, must-revalidate"
            )
        )
    )
    assert d.entry is not None
    back = load_entry(dump_entry(d.entry))
    assert back.cc == d.entry.cc and back.cc.must_revalidate and back.cc_field == d.entry.cc_field

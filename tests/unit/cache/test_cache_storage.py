"""Storing responses: RFC 9111 §3, §3.1, §3.3, §3.5, §5.2.2.3, §5.2.2.5, §5.2.2.7."""

from __future__ import annotations

import pytest
from cache_helpers import T0, h, on, request, response

from frontdesk.cache.fields import get_all, get_first
from frontdesk.cache.options import CacheOptions
from frontdesk.cache.storage import StoreReason, content_length, stored_fields

R = StoreReason


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "FOO"])
def test_only_get_and_head_stored_rfc9111_3(method: str) -> None:
    """§3: "the request method is understood by the cache" (GET and HEAD here)."""
    d = on(response(headers=h(cache_control="max-age=60")), request(method))
    assert d.reason is R.METHOD and d.entry is None


def test_get_with_max_age_stored_rfc9111_3() -> None:
    d = on(response(headers=h(cache_control="max-age=60")))
    assert d.reason is R.STORED and d.store
    assert d.ttl == 60
    assert d.entry is not None and d.entry.key == "https://example.com/a"


def test_head_response_stored_for_head_only_rfc9111_3() -> None:
    d = on(
        response(headers=h(cache_control="max-age=60", content_length="1234"), body=0),
        request("HEAD"),
    )
    assert d.entry is not None
    assert d.entry.method == b"HEAD" and d.entry.content_length == 1234


@pytest.mark.parametrize("status", [100, 101, 103])
def test_non_final_status_not_stored_rfc9111_3(status: int) -> None:
    """§3: "the response status code is final"."""
    assert on(response(status, h(cache_control="max-age=60"))).reason is R.NOT_FINAL


def test_304_not_stored_as_a_response() -> None:
    assert on(response(304, h(cache_control="max-age=60"))).reason is R.NOT_MODIFIED


def test_206_not_stored_as_complete_rfc9111_3_3() -> None:
    """§3.3/§3.4: partial content is not combined here, so never stored as if complete."""
    assert on(response(206, h(cache_control="max-age=60"))).reason is R.PARTIAL


@pytest.mark.parametrize("status", [200, 203, 204, 300, 301, 308, 404, 405, 410, 414, 501])
def test_heuristically_cacheable_status_stored_without_explicit_freshness_rfc9110_15_1(
    status: int,
) -> None:
    """§3: "a status code that is defined as heuristically cacheable"; needs a validator
    or a heuristic lifetime (Last-Modified) to be worth keeping."""
    d = on(
        response(
            status,
            h(last_modified="Mon, 01 Jan 2001 00:00:00 GMT"),
            body=0 if status == 204 else 10,
        )
    )
    assert d.reason is R.STORED
    assert d.entry is not None and d.entry.heuristic


@pytest.mark.parametrize("status", [201, 202, 302, 303, 307, 400, 403, 500, 502, 503])
def test_other_status_needs_explicit_freshness_rfc9111_3(status: int) -> None:
    assert on(response(status, h(etag='"x"'))).reason is R.NOT_CACHEABLE


@pytest.mark.parametrize("cc", ["public", "max-age=10", "s-maxage=10"])
def test_explicit_directive_makes_other_status_storable_rfc9111_3(cc: str) -> None:
    assert on(response(302, h(cache_control=cc, etag='"x"'))).reason is R.STORED


def test_expires_makes_other_status_storable_rfc9111_3() -> None:
    assert on(response(302, h(expires="Mon, 01 Jan 2001 00:00:00 GMT", etag='"x"'))).store


def test_no_store_not_stored_rfc9111_5_2_2_5() -> None:
    assert on(response(headers=h(cache_control="max-age=60, no-store"))).reason is R.NO_STORE


def test_must_understand_overrides_no_store_for_understood_status_rfc9111_5_2_2_3() -> None:
    """§5.2.2.3: "the cache SHOULD ignore the no-store directive if it understands and
    implements the status code's caching requirements."."""
    d = on(response(headers=h(cache_control="must-understand, no-store, max-age=60")))
    assert d.reason is R.STORED


def test_must_understand_with_unknown_status_not_stored_rfc9111_3() -> None:
    """§3: with must-understand "the cache understands the response status code"."""
    d = on(response(299, h(cache_control="must-understand, no-store, max-age=60")))
    assert d.reason is R.MUST_UNDERSTAND
    d = on(response(299, h(cache_control="must-understand, max-age=60")))
    assert d.reason is R.MUST_UNDERSTAND


def test_unknown_status_with_max_age_storable_without_must_understand_rfc9111_3() -> None:
    assert on(response(299, h(cache_control="max-age=60"))).store


def test_unqualified_private_not_stored_by_shared_cache_rfc9111_5_2_2_7() -> None:
    assert on(response(headers=h(cache_control="private, max-age=60"))).reason is R.PRIVATE


def test_qualified_private_fields_stripped_rfc9111_5_2_2_7() -> None:
    """§5.2.2.7: "a shared cache MUST NOT store the listed header fields ... but MAY
    store the remainder of the response message without those fields."."""
    hs = h(
        cache_control='max-age=60, private="X-User, x-token"',
        x_user="alice",
        x_token="t",
        x_other="kept",
    )
    d = on(response(headers=hs))
    assert d.entry is not None
    assert get_first(d.entry.headers, b"x-user") is None
    assert get_first(d.entry.headers, b"x-token") is None
    assert get_first(d.entry.headers, b"x-other") == b"kept"
    assert {b"x-user", b"x-token"} <= d.stripped


def test_qualified_no_cache_fields_not_stored_rfc9111_3_1() -> None:
    """§3.1: no-cache arguments "prevent storage of header fields by all caches"."""
    d = on(response(headers=h(cache_control='max-age=60, no-cache="x-secret"', x_secret="s")))
    assert d.entry is not None and get_first(d.entry.headers, b"x-secret") is None


@pytest.mark.parametrize("cc", ["max-age=60", "no-cache", ""])
def test_authorization_request_not_stored_without_permission_rfc9111_3_5(cc: str) -> None:
    hs = h(cache_control=cc, etag='"x"') if cc else h(etag='"x"')
    d = on(response(headers=hs), request(headers=h(authorization="Basic YTpi")))
    assert d.reason is R.AUTHORIZATION


@pytest.mark.parametrize("cc", ["public, max-age=60", "s-maxage=60", "must-revalidate, max-age=60"])
def test_authorization_allowed_by_public_s_maxage_must_revalidate_rfc9111_3_5(cc: str) -> None:
    """§3.5: "must-revalidate ..., public ..., and s-maxage" have such an effect."""
    d = on(response(headers=h(cache_control=cc)), request(headers=h(authorization="Bearer t")))
    assert d.reason is R.STORED


def test_request_no_store_prevents_storing_rfc9111_5_2_1_5() -> None:
    """§5.2.1.5: "a cache MUST NOT store any part of either this request or any response
    to it."."""
    d = on(
        response(headers=h(cache_control="max-age=60")),
        request(headers=h(cache_control="no-store")),
    )
    assert d.reason is R.REQUEST_NO_STORE


def test_set_cookie_not_stored_by_default() -> None:
    d = on(response(headers=h(cache_control="max-age=60", set_cookie="sid=1")))
    assert d.reason is R.SET_COOKIE


def test_set_cookie_stored_when_configured() -> None:
    opts = CacheOptions(store_set_cookie=True)
    d = on(response(headers=h(cache_control="max-age=60", set_cookie="sid=1")), options=opts)
    assert d.entry is not None and get_first(d.entry.headers, b"set-cookie") == b"sid=1"


def test_set_cookie_named_by_private_is_stripped_then_stored_rfc9111_5_2_2_7() -> None:
    hs = h(cache_control='max-age=60, private="set-cookie"', set_cookie="sid=1")
    d = on(response(headers=hs))
    assert d.entry is not None and get_first(d.entry.headers, b"set-cookie") is None
    # the client still receives its cookie
    assert get_first(d.client_headers, b"set-cookie") == b"sid=1"


def test_vary_star_not_stored_rfc9111_4_1() -> None:
    """§4.1: Vary "*" "always fails to match": storing it is pointless."""
    d = on(response(headers=h(cache_control="max-age=60", vary="Accept, *")))
    assert d.reason is R.VARY_STAR


def test_incomplete_response_not_stored_rfc9111_3_3() -> None:
    """§3.3: "A cache MUST NOT use an incomplete response to answer requests"."""
    d = on(response(headers=h(cache_control="max-age=60"), complete=False))
    assert d.reason is R.INCOMPLETE


def test_body_shorter_than_content_length_is_incomplete_rfc9111_3_3() -> None:
    d = on(response(headers=h(cache_control="max-age=60", content_length="100"), body=50))
    assert d.reason is R.INCOMPLETE


def test_body_matching_content_length_is_complete() -> None:
    d = on(response(headers=h(cache_control="max-age=60", content_length="50"), body=50))
    assert d.entry is not None and d.entry.content_length == 50


def test_unconfigured_host_not_stored() -> None:
    opts = CacheOptions(hosts=frozenset({"example.com"}))
    hs = h(cache_control="max-age=60")
    assert on(response(headers=hs), request(host="evil.test"), opts).reason is R.HOST
    assert on(response(headers=hs), request(host="example.com"), opts).store


def test_too_large_not_stored() -> None:
    opts = CacheOptions(max_object_size=100)
    assert (
        on(response(headers=h(cache_control="max-age=60"), body=101), options=opts).reason
        is R.TOO_LARGE
    )
    assert on(response(headers=h(cache_control="max-age=60"), body=100), options=opts).store


def test_stale_without_validator_or_stale_permission_not_kept() -> None:
    assert on(response(headers=h(cache_control="max-age=0"))).reason is R.NO_REUSE


def test_stale_with_validator_kept_for_validation_rfc9111_4_3() -> None:
    d = on(response(headers=h(cache_control="max-age=0", etag='"v1"')))
    assert d.store and d.ttl == 0


def test_stale_with_stale_if_error_kept_rfc5861_4() -> None:
    assert on(response(headers=h(cache_control="max-age=0, stale-if-error=60"))).store


def test_invalid_max_age_stored_as_stale_rfc9111_4_2_1() -> None:
    d = on(response(headers=h(cache_control="max-age=oops", etag='"a"')))
    assert d.entry is not None and d.entry.lifetime == 0


def test_connection_and_hop_by_hop_fields_not_stored_rfc9111_3_1() -> None:
    """§3.1: Connection and the fields it lists, hop-by-hop fields (RFC 9110 §7.6.1),
    and Proxy-Authenticate / -Authentication-Info / -Authorization are not stored."""
    hs = h(
        cache_control="max-age=60",
        connection="close, X-Hop",
        x_hop="1",
        keep_alive="5",
        transfer_encoding="chunked",
        proxy_authenticate="Basic",
        upgrade="h2c",
        proxy_authentication_info="x",
        content_type="text/plain",
    )
    d = on(response(headers=hs))
    assert d.entry is not None
    names = {k for k, _ in d.entry.headers}
    assert names == {b"cache-control", b"content-type", b"date"}


def test_date_added_when_missing_rfc9110_6_6_1() -> None:
    fields, _ = stored_fields(h(cache_control="max-age=1"), CacheOptions(), T0)
    assert get_all(fields, b"date") == [b"Tue, 14 Nov 2023 22:13:20 GMT"]


def test_tags_read_and_stripped_from_stored_and_client_headers() -> None:
    hs = h(cache_control="max-age=60", surrogate_key="a b", cache_tag="c,a")
    d = on(response(headers=hs))
    assert d.entry is not None and d.entry.tags == ("a", "b", "c")
    assert get_first(d.entry.headers, b"surrogate-key") is None
    assert get_first(d.client_headers, b"surrogate-key") is None
    assert get_first(d.client_headers, b"cache-tag") is None


def test_vary_values_recorded_from_request_rfc9111_4_1() -> None:
    d = on(
        response(headers=h(cache_control="max-age=60", vary="Accept-Encoding")),
        request(headers=h(accept_encoding="gzip, br")),
    )
    assert d.entry is not None
    assert d.entry.vary == (b"accept-encoding",)
    assert d.entry.vary_values == (b"br,gzip",)


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        ([], None),
        ([b"10"], 10),
        ([b"10", b"10"], 10),
        ([b"10, 10"], 10),
        ([b"10", b"11"], None),
        ([b"x"], None),
        ([b"-1"], None),
    ],
)
def test_content_length_reading_rfc9110_8_6(lines: list[bytes], expected: int | None) -> None:
    assert content_length([(b"Content-Length", v) for v in lines]) == expected


def test_head_response_without_content_length_not_stored_rfc9110_9_3_2() -> None:
    d = on(response(headers=h(cache_control="max-age=60"), body=0), request("HEAD"))
    assert d.reason is R.INCOMPLETE


def test_entry_with_validator_useful_indefinitely_rfc9111_4_3_4() -> None:
    d = on(response(headers=h(cache_control="max-age=60", etag='"a"')))
    assert d.entry is not None and d.entry.useful_until() is None


@pytest.mark.parametrize(
    ("cc", "until"),
    [
        # May be served stale when the origin is gone (§4.2.4): kept until evicted.
        ("max-age=60", None),
        ("max-age=60, stale-while-revalidate=30", None),
        # Never stale: useless once expired.
        ("max-age=60, must-revalidate, stale-if-error=300", T0 + 60),
        ("s-maxage=60, stale-if-error=300", T0 + 60),
        ("max-age=60, proxy-revalidate", T0 + 60),
    ],
)
def test_entry_without_validator_useful_until_rfc9111_4_2_4(cc: str, until: float | None) -> None:
    d = on(response(headers=h(cache_control=cc)))
    assert d.entry is not None and d.entry.useful_until() == until


def test_no_lifetime_and_no_stale_window_not_kept_rfc5861() -> None:
    d = on(response(headers=h(cache_control="max-age=0")))
    assert d.reason is R.NO_REUSE
    d = on(response(headers=h(cache_control="max-age=0, stale-if-error=15")))
    assert d.store


def test_aged_past_its_stale_window_is_still_kept_rfc9111_5_1() -> None:
    """Age never refuses storage (issue 17): the entry is stale, not refused."""
    d = on(response(headers=h(cache_control="max-age=10, stale-if-error=5", age="20")))
    assert d.store

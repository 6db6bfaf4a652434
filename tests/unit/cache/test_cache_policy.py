"""decide(): reuse of stored responses, RFC 9111 §4, §4.1, §4.2.4, §5.2.1, §5.2.2; RFC 5861."""

from __future__ import annotations

import pytest
from cache_helpers import T0, h, request, stored

from frontdesk.cache.entry import Entry
from frontdesk.cache.options import CacheOptions
from frontdesk.cache.policy import Action, Decision, decide, stale_on_error
from frontdesk.cache.status import Fwd, parse_member

OPTS = CacheOptions()
A = Action


def run(
    entries: list[Entry],
    now: float,
    headers=None,
    method: str = "GET",  # type: ignore[no-untyped-def]
    options: CacheOptions = OPTS,
) -> Decision:
    return decide(request(method, headers=headers), entries, now, options)


FRESH = "max-age=100"


def test_fresh_entry_is_a_hit_rfc9111_4_2() -> None:
    d = run([stored(h(cache_control=FRESH))], T0 + 10)
    assert d.action is A.HIT
    assert (d.age, d.ttl) == (10, 90)


def test_entry_stale_at_exact_lifetime_rfc9111_4_2() -> None:
    """§4.2: response_is_fresh = (freshness_lifetime > current_age)."""
    e = stored(h(cache_control=FRESH, etag='"a"'))
    assert run([e], T0 + 99.9).action is A.HIT
    assert run([e], T0 + 100).action is A.VALIDATE


def test_no_candidates_is_uri_miss_rfc9211_2_2() -> None:
    d = run([], T0)
    assert (d.action, d.fwd) == (A.FORWARD, Fwd.URI_MISS)


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "OPTIONS", "PATCH"])
def test_other_methods_forwarded_rfc9111_4(method: str) -> None:
    """§4: "A cache MUST write through requests with methods that are unsafe"."""
    d = run([stored(h(cache_control=FRESH))], T0, method=method)
    assert (d.action, d.fwd) == (A.FORWARD, Fwd.METHOD)


def test_head_answered_from_stored_get_rfc9110_9_3_2() -> None:
    assert run([stored(h(cache_control=FRESH))], T0, method="HEAD").action is A.HIT


def test_get_not_answered_from_stored_head_rfc9111_4() -> None:
    """§4: "the request method associated with the stored response allows it to be used
    for the presented request": a HEAD response has no content for a GET."""
    e = stored(h(cache_control=FRESH, content_length="5"), req=request("HEAD"), body=0)
    d = run([e], T0)
    assert (d.action, d.fwd) == (A.FORWARD, Fwd.URI_MISS)
    assert run([e], T0, method="HEAD").action is A.HIT


def test_bypass_header_skips_cache() -> None:
    opts = CacheOptions(bypass_request_headers=frozenset({b"cookie"}))
    d = run([stored(h(cache_control=FRESH))], T0, h(cookie="a=1"), options=opts)
    assert (d.action, d.fwd) == (A.FORWARD, Fwd.BYPASS)


# --- Vary §4.1 ------------------------------------------------------------------------


def vary_entry(ae: str | None, at: float = T0) -> Entry:
    req = request(headers=h(accept_encoding=ae) if ae is not None else [])
    return stored(h(cache_control=FRESH, vary="Accept-Encoding"), req=req, at=at)


def test_vary_match_is_a_hit_rfc9111_4_1() -> None:
    assert run([vary_entry("gzip")], T0, h(accept_encoding="gzip")).action is A.HIT


def test_vary_mismatch_is_vary_miss_rfc9111_4_1() -> None:
    d = run([vary_entry("gzip")], T0, h(accept_encoding="br"))
    assert (d.action, d.fwd) == (A.FORWARD, Fwd.VARY_MISS)


def test_vary_absent_matches_only_absent_rfc9111_4_1() -> None:
    """§4.1: "If (after any normalization that might take place) a header field is absent
    from a request, it can only match another request if it is also absent there."."""
    assert run([vary_entry(None)], T0).action is A.HIT
    assert run([vary_entry(None)], T0, h(accept_encoding="gzip")).fwd is Fwd.VARY_MISS
    assert run([vary_entry("gzip")], T0).fwd is Fwd.VARY_MISS


def test_vary_match_after_normalisation_rfc9111_4_1() -> None:
    """Whitespace, case and (for Accept-Encoding) order do not matter."""
    d = run(
        [vary_entry("gzip, br")], T0, [(b"Accept-Encoding", b"BR"), (b"accept-encoding", b" gzip")]
    )
    assert d.action is A.HIT


def test_variants_selected_by_request_rfc9111_4_1() -> None:
    gz, br = vary_entry("gzip"), vary_entry("br")
    assert run([gz, br], T0, h(accept_encoding="br")).entry is br
    assert run([gz, br], T0, h(accept_encoding="gzip")).entry is gz


def test_most_recent_by_date_chosen_rfc9111_4() -> None:
    """§4: "When more than one suitable response is stored, a cache MUST use the most
    recent one (as determined by the Date header field)."."""
    old = stored(h(cache_control="max-age=1000"), at=T0 - 50)
    new = stored(h(cache_control="max-age=1000"), at=T0 - 10)
    assert run([new, old], T0).entry is new
    assert run([old, new], T0).entry is new


def test_response_with_vary_preferred_over_one_without_rfc9111_4_1() -> None:
    """§4.1: "the cache SHOULD choose the most recent ... stored response with a valid
    Vary field value"."""
    plain = stored(h(cache_control=FRESH), at=T0)
    varied = vary_entry("gzip", at=T0 - 5)
    assert run([plain, varied], T0, h(accept_encoding="gzip")).entry is varied


# --- response directives ----------------------------------------------------------------


def test_no_cache_response_always_validated_rfc9111_5_2_2_4() -> None:
    """§5.2.2.4: "the response MUST NOT be used to satisfy any other request without
    forwarding it for validation and receiving a successful response"."""
    d = run([stored(h(cache_control="max-age=100, no-cache", etag='"a"'))], T0 + 1)
    assert (d.action, d.fwd) == (A.VALIDATE, Fwd.STALE)
    assert d.conditional == ((b"if-none-match", b'"a"'),)


def test_invalidated_entry_validated_rfc9111_4_4() -> None:
    from dataclasses import replace

    e = replace(stored(h(cache_control=FRESH, etag='"a"')), invalid=True)
    assert run([e], T0 + 1).action is A.VALIDATE


def test_stale_entry_validated_with_validators_rfc9111_4_3_1() -> None:
    e = stored(
        h(cache_control="max-age=10", etag='"v"', last_modified="Mon, 01 Jan 2001 00:00:00 GMT")
    )
    d = run([e], T0 + 11)
    assert (d.action, d.fwd) == (A.VALIDATE, Fwd.STALE)
    assert dict(d.conditional) == {
        b"if-none-match": b'"v"',
        b"if-modified-since": b"Mon, 01 Jan 2001 00:00:00 GMT",
    }
    assert d.ttl == -1


@pytest.mark.parametrize(
    "cc", ["must-revalidate", "proxy-revalidate", "s-maxage=10, max-age=10", "no-cache"]
)
def test_no_stale_use_when_forbidden_rfc9111_4_2_4(cc: str) -> None:
    """§4.2.4: no stale response with no-cache, must-revalidate, s-maxage or
    proxy-revalidate, even when the client accepts stale (max-stale)."""
    full = f"max-age=10, {cc}, stale-while-revalidate=100"
    e = stored(h(cache_control=full, etag='"v"'))
    d = run([e], T0 + 20, h(cache_control="max-stale"))
    assert d.action is A.VALIDATE


# --- request directives §5.2.1 ------------------------------------------------------------


def test_request_no_cache_validates_fresh_entry_rfc9111_5_2_1_4() -> None:
    d = run([stored(h(cache_control=FRESH, etag='"a"'))], T0 + 1, h(cache_control="no-cache"))
    assert (d.action, d.fwd) == (A.VALIDATE, Fwd.REQUEST)


def test_pragma_no_cache_validates_rfc7234_5_4() -> None:
    d = run([stored(h(cache_control=FRESH))], T0 + 1, h(pragma="no-cache"))
    assert (d.action, d.fwd) == (A.VALIDATE, Fwd.REQUEST)


def test_pragma_ignored_with_cache_control_rfc7234_5_4() -> None:
    d = run(
        [stored(h(cache_control=FRESH))], T0 + 1, h(pragma="no-cache", cache_control="max-stale")
    )
    assert d.action is A.HIT


def test_request_no_cache_ignored_when_configured() -> None:
    opts = CacheOptions(honor_request_no_cache=False)
    d = run(
        [stored(h(cache_control=FRESH))],
        T0 + 1,
        h(cache_control="no-cache, max-age=0"),
        options=opts,
    )
    assert d.action is A.HIT


@pytest.mark.parametrize(
    ("max_age", "action"), [(0, A.VALIDATE), (29, A.VALIDATE), (30, A.HIT), (60, A.HIT)]
)
def test_request_max_age_rfc9111_5_2_1_1(max_age: int, action: Action) -> None:
    """§5.2.1.1: "the client prefers a response whose age is less than or equal to the
    specified number of seconds"."""
    d = run([stored(h(cache_control=FRESH))], T0 + 30, h(cache_control=f"max-age={max_age}"))
    assert d.action is action


@pytest.mark.parametrize(("min_fresh", "action"), [(69, A.HIT), (70, A.HIT), (71, A.VALIDATE)])
def test_request_min_fresh_rfc9111_5_2_1_3(min_fresh: int, action: Action) -> None:
    """§5.2.1.3: fresh for at least min-fresh more seconds (ttl 70 here)."""
    d = run([stored(h(cache_control=FRESH))], T0 + 30, h(cache_control=f"min-fresh={min_fresh}"))
    assert d.action is action


@pytest.mark.parametrize(
    ("max_stale", "action"),
    [("max-stale", A.STALE_HIT), ("max-stale=50", A.STALE_HIT), ("max-stale=49", A.VALIDATE)],
)
def test_request_max_stale_rfc9111_5_2_1_2(max_stale: str, action: Action) -> None:
    e = stored(h(cache_control=FRESH, etag='"a"'))
    d = run([e], T0 + 150, h(cache_control=max_stale))  # 50 s stale
    assert d.action is action


def test_max_age_with_max_stale_rfc9111_5_2_1_1() -> None:
    """ "Unless the max-stale request directive is also present, the client does not wish
    to receive a stale response" — with it, a stale response within both limits is ok."""
    e = stored(h(cache_control="max-age=60"))
    assert run([e], T0 + 80, h(cache_control="max-age=100, max-stale=30")).action is A.STALE_HIT
    assert run([e], T0 + 80, h(cache_control="max-age=70, max-stale=30")).action is A.VALIDATE


def test_only_if_cached_hit_rfc9111_5_2_1_7() -> None:
    assert (
        run([stored(h(cache_control=FRESH))], T0, h(cache_control="only-if-cached")).action is A.HIT
    )


def test_only_if_cached_miss_is_504_rfc9111_5_2_1_7() -> None:
    """§5.2.1.7: respond "with either a stored response consistent with the other
    constraints of the request message or a 504 (Gateway Timeout) status code"."""
    assert run([], T0, h(cache_control="only-if-cached")).action is A.GATEWAY_TIMEOUT
    assert (
        run([vary_entry("gzip")], T0, h(cache_control="only-if-cached")).action is A.GATEWAY_TIMEOUT
    )


def test_only_if_cached_stale_is_504_rfc9111_5_2_1_7() -> None:
    e = stored(h(cache_control="max-age=10", etag='"a"'))
    assert run([e], T0 + 20, h(cache_control="only-if-cached")).action is A.GATEWAY_TIMEOUT


def test_only_if_cached_with_max_stale_serves_stale_rfc9111_5_2_1_7() -> None:
    e = stored(h(cache_control="max-age=10"))
    d = run([e], T0 + 20, h(cache_control="only-if-cached, max-stale"))
    assert d.action is A.STALE_HIT


# --- RFC 5861 ---------------------------------------------------------------------------


def test_stale_while_revalidate_within_window_rfc5861_3() -> None:
    e = stored(h(cache_control="max-age=10, stale-while-revalidate=30", etag='"a"'))
    d = run([e], T0 + 40)
    assert d.action is A.STALE_REVALIDATE
    assert d.conditional == ((b"if-none-match", b'"a"'),)
    assert d.serves_stored


def test_stale_while_revalidate_past_window_validates_rfc5861_3() -> None:
    e = stored(h(cache_control="max-age=10, stale-while-revalidate=30", etag='"a"'))
    assert run([e], T0 + 40.5).action is A.VALIDATE


def test_stale_while_revalidate_does_not_override_request_no_cache() -> None:
    e = stored(h(cache_control="max-age=10, stale-while-revalidate=30"))
    assert run([e], T0 + 20, h(cache_control="no-cache")).action is A.VALIDATE


def validating(cc: str, now: float, req_cc: str | None = None) -> Decision:
    e = stored(h(cache_control=cc, etag='"a"'))
    d = run([e], now, h(cache_control=req_cc) if req_cc else None)
    assert d.action is A.VALIDATE
    return d


@pytest.mark.parametrize("status", [500, 502, 503, 504, None])
def test_stale_if_error_serves_stale_on_error_rfc5861_4(status: int | None) -> None:
    """RFC 5861 §4: "an error is any situation that would result in a 500, 502, 503, or
    504 HTTP response status code being returned"; None is no response at all."""
    d = validating("max-age=10, stale-if-error=60", T0 + 20)
    assert stale_on_error(d, T0 + 20, status)


@pytest.mark.parametrize("status", [200, 404, 501, 505])
def test_stale_if_error_not_for_other_statuses_rfc5861_4(status: int) -> None:
    d = validating("max-age=10, stale-if-error=60", T0 + 20)
    assert not stale_on_error(d, T0 + 20, status)


def test_stale_if_error_window_rfc5861_4() -> None:
    d = validating("max-age=10, stale-if-error=60", T0 + 20)
    assert stale_on_error(d, T0 + 70, 503)
    assert not stale_on_error(d, T0 + 70.5, 503)


def test_stale_if_error_request_directive_rfc5861_4() -> None:
    d = validating("max-age=10", T0 + 20, "stale-if-error=30")
    assert stale_on_error(d, T0 + 40, 502)
    assert not stale_on_error(d, T0 + 41, 502)


@pytest.mark.parametrize("cc", ["must-revalidate", "proxy-revalidate", "s-maxage=10"])
def test_stale_if_error_not_when_revalidation_required_rfc9111_5_2_2_2(cc: str) -> None:
    """§5.2.2.2: "if a cache is disconnected, the cache MUST generate an error response
    rather than reuse the stale response"; s-maxage implies proxy-revalidate (§5.2.2.10)."""
    d = validating(f"max-age=10, {cc}, stale-if-error=60", T0 + 20)
    assert not stale_on_error(d, T0 + 20, 503)


def test_no_stale_on_a_5xx_without_permission_rfc9111_4_2_4() -> None:
    d = validating("max-age=10", T0 + 20)
    assert not stale_on_error(d, T0 + 20, 503)


def test_stale_when_disconnected_rfc9111_4_2_4() -> None:
    """No response at all: the cache is disconnected, and §4.2.4 lets it serve stale."""
    from frontdesk.cache.policy import stale_detail

    d = validating("max-age=10", T0 + 20)
    assert stale_on_error(d, T0 + 20, None)
    assert stale_detail(d, T0 + 20, None) == "disconnected"
    d = validating("max-age=10, stale-if-error=60", T0 + 20)
    assert stale_detail(d, T0 + 20, None) == "stale-if-error"


@pytest.mark.parametrize("cc", ["must-revalidate", "proxy-revalidate", "s-maxage=10", "no-cache"])
def test_no_stale_when_disconnected_if_forbidden_rfc9111_4_2_4(cc: str) -> None:
    d = validating(f"max-age=10, {cc}", T0 + 20)
    assert not stale_on_error(d, T0 + 20, None)


def test_fresh_entry_used_on_error_after_client_forced_validation() -> None:
    d = validating("max-age=100", T0 + 20, "no-cache")
    assert stale_on_error(d, T0 + 20, 503)


def test_no_cache_entry_never_used_on_error_rfc9111_5_2_2_4() -> None:
    d = validating("max-age=100, no-cache, stale-if-error=100", T0 + 20)
    assert not stale_on_error(d, T0 + 20, 503)


# --- Cache-Status members (RFC 9211) --------------------------------------------------------


def test_hit_status_member_rfc9211_2_1() -> None:
    d = run([stored(h(cache_control=FRESH))], T0 + 10)
    assert d.status_member(OPTS) == b"frontdesk; hit; ttl=90"


def test_miss_status_member_rfc9211_2_2() -> None:
    d = run([], T0)
    assert (
        d.status_member(OPTS, fwd_status=200, stored=True)
        == b"frontdesk; fwd=uri-miss; fwd-status=200; stored"
    )


def test_stale_validation_status_member_rfc9211_2_2() -> None:
    d = validating("max-age=10", T0 + 20)
    name, params = parse_member(d.status_member(OPTS, fwd_status=304))
    assert name == "frontdesk"
    assert params == {"fwd": "stale", "fwd-status": 304, "ttl": -10}


def test_swr_status_member_has_detail() -> None:
    e = stored(h(cache_control="max-age=10, stale-while-revalidate=30"))
    d = run([e], T0 + 20)
    assert d.status_member(OPTS) == b"frontdesk; hit; ttl=-10; detail=stale-while-revalidate"


def test_504_status_member() -> None:
    d = run([], T0, h(cache_control="only-if-cached"))
    assert d.status_member(OPTS) == b"frontdesk; detail=only-if-cached"


@pytest.mark.parametrize("field", ["if_match", "if_unmodified_since"])
def test_origin_only_preconditions_forwarded_rfc9111_4_3_2(field: str) -> None:
    """§4.3.2: "the If-Match and If-Unmodified-Since conditional header fields are not
    applicable to a cache": such requests go to the origin."""
    d = run([stored(h(cache_control=FRESH))], T0, h(**{field: '"x"'}))
    assert (d.action, d.fwd) == (A.FORWARD, Fwd.REQUEST)


def test_storable_helper_matches_on_response_rfc9111_3() -> None:
    from cache_helpers import response

    from frontdesk.cache.storage import storable

    assert storable(request(), response(headers=h(cache_control="max-age=5")), OPTS)
    assert not storable(request(), response(headers=h(cache_control="no-store")), OPTS)


def test_hit_path_parses_no_stored_header(monkeypatch: pytest.MonkeyPatch) -> None:
    """A stored entry keeps its parsed directives, dates and validators: a hit (decide +
    answer) parses neither Cache-Control nor a date again."""
    import frontdesk.cache.directives as directives
    import frontdesk.cache.entry as entry_mod
    import frontdesk.cache.serve as serve

    e = stored(
        h(
            cache_control="max-age=100",
            etag='"a"',
            last_modified="Mon, 01 Jan 2001 00:00:00 GMT",
            vary="accept-encoding",
        ),
        req=request(headers=h(accept_encoding="gzip")),
    )

    def boom(*_: object) -> None:
        raise AssertionError("parsed on the hit path")

    monkeypatch.setattr(directives, "_parse", boom)
    monkeypatch.setattr(entry_mod, "response_directives", boom)
    monkeypatch.setattr(entry_mod, "parse_http_date", boom)
    monkeypatch.setattr(serve, "parse_http_date", boom)
    d = run([e], T0 + 5, h(accept_encoding="gzip", user_agent="x"))
    assert d.action is A.HIT
    a = serve.answer(
        b"GET", h(accept_encoding="gzip"), e, T0 + 5, status_member=d.status_member(OPTS)
    )
    assert a.status == 200


def test_age_above_lifetime_on_arrival_is_stored_stale_rfc9111_5_1() -> None:
    """Age never refuses storage: aged past its lifetime, the response is kept (stale);
    only a client's max-stale can use it, and a fetch replaces it."""
    from cache_helpers import on, response

    from frontdesk.cache.storage import StoreReason

    d = on(response(headers=h(cache_control="max-age=60", age="120")))
    assert d.reason is StoreReason.STORED and d.ttl == -60
    assert d.entry is not None and not d.entry.is_fresh(d.entry.response_time)


def test_no_lifetime_no_validator_still_refused() -> None:
    from cache_helpers import on, response

    from frontdesk.cache.storage import StoreReason

    d = on(response(headers=h(cache_control="max-age=0")))
    assert d.reason is StoreReason.NO_REUSE


def test_stale_if_error_status_member_detail_rfc9211_2_8() -> None:
    d = validating("max-age=10, stale-if-error=60", T0 + 20)
    assert d.status_member(OPTS, fwd_status=503, detail="stale-if-error") == (
        b"frontdesk; fwd=stale; fwd-status=503; ttl=-10; detail=stale-if-error"
    )


@pytest.mark.parametrize(
    ("cc", "forbids"),
    [
        ("max-age=1", False),
        ("no-cache", True),
        ("must-revalidate", True),
        ("proxy-revalidate", True),
        ("s-maxage=0", True),
        ("stale-if-error=5", False),
        ('no-cache="x"', False),
    ],
)
def test_forbids_stale_rfc9111_4_2_4(cc: str, forbids: bool) -> None:
    from frontdesk.cache.directives import parse_cache_control

    assert parse_cache_control([cc.encode()]).forbids_stale is forbids

"""Properties of the cache policy (hypothesis): ages, lifetimes, parsing, keys."""

from __future__ import annotations

from cache_helpers import T0, h, request, stored
from hypothesis import given
from hypothesis import strategies as st

from frontdesk.cache.directives import DELTA_MAX, parse_cache_control
from frontdesk.cache.fields import split_list
from frontdesk.cache.freshness import corrected_initial_age, current_age, format_age
from frontdesk.cache.keys import make_key, normalize_field, normalize_query
from frontdesk.cache.options import CacheOptions, KeyOptions
from frontdesk.cache.policy import Action, decide
from frontdesk.cache.serve import parse_range
from frontdesk.cache.status import Fwd, cache_status, parse_member
from frontdesk.cache.tags import format_tags, parse_tags

_OPTS = CacheOptions()
times = st.floats(min_value=0, max_value=4e9, allow_nan=False)
ages = st.integers(min_value=0, max_value=DELTA_MAX)


@given(ages, times, times, times, times, times)
def test_age_never_negative_and_never_decreasing_rfc9111_4_2_3(
    age: int, date: float, req: float, resp: float, now1: float, now2: float
) -> None:
    initial = corrected_initial_age(age, date, min(req, resp), max(req, resp))
    a1 = current_age(initial, max(req, resp), min(now1, now2))
    a2 = current_age(initial, max(req, resp), max(now1, now2))
    assert 0 <= a1 <= a2
    assert a1 >= age  # the Age received is never undercut


@given(st.floats(allow_nan=False, allow_infinity=False, min_value=-1e30, max_value=1e30))
def test_age_header_is_a_capped_non_negative_integer_rfc9111_5_1(age: float) -> None:
    text = format_age(age)
    assert text.isdigit()
    assert 0 <= int(text) <= DELTA_MAX


@given(st.integers(min_value=0, max_value=10**12), st.integers(min_value=0, max_value=10**12))
def test_s_maxage_beats_max_age_rfc9111_4_2_1(smax: int, maxage: int) -> None:
    e = stored(h(cache_control=f"max-age={maxage}, s-maxage={smax}", etag='"e"'))
    assert e.lifetime == min(smax, DELTA_MAX)


@given(st.integers(min_value=0, max_value=10**6), st.integers(min_value=0, max_value=10**6))
def test_fresh_exactly_while_age_below_lifetime_rfc9111_4_2(lifetime: int, elapsed: int) -> None:
    e = stored(h(cache_control=f"max-age={lifetime}", etag='"e"'))
    d = decide(request(), [e], T0 + elapsed, _OPTS)
    assert (d.action is Action.HIT) == (elapsed < lifetime)


@given(st.text(alphabet='abcxyz=,; \t"\\-0123456789', max_size=40))
def test_cache_control_parser_total(value: str) -> None:
    """Any byte string parses without error; delta values stay in [0, 2^31]."""
    cc = parse_cache_control([value.encode()])
    for v in (cc.max_age, cc.s_maxage, cc.max_stale, cc.min_fresh):
        assert v is None or 0 <= v <= DELTA_MAX


@given(
    st.lists(
        st.sampled_from(
            [
                "max-age=5",
                "no-store",
                "public",
                "private",
                "s-maxage=9",
                "no-cache",
                "must-revalidate",
                "x=1",
            ]
        ),
        max_size=6,
    )
)
def test_directive_lines_split_or_joined_parse_the_same_rfc9111_5_2(items: list[str]) -> None:
    one = parse_cache_control([", ".join(items).encode()])
    many = parse_cache_control([i.encode() for i in items])
    assert one == many


query_params = st.lists(
    st.tuples(
        st.sampled_from(["a", "b", "utm_source", "utm_x", "id", "z"]), st.text("0123", max_size=2)
    ),
    max_size=6,
)


@given(query_params, st.booleans())
def test_query_normalisation_idempotent(params: list[tuple[str, str]], sort: bool) -> None:
    opts = KeyOptions(sort_query=sort, ignore_params=("utm_*",))
    q = "&".join(f"{k}={v}" for k, v in params)
    once = normalize_query(q, opts)
    assert normalize_query(once, opts) == once
    assert "utm_" not in once


@given(
    st.sampled_from(["http", "https"]),
    st.sampled_from(["Example.COM", "example.com", "a.b."]),
    st.one_of(st.none(), st.integers(1, 65535)),
)
def test_key_idempotent_under_case_and_default_port(
    scheme: str, host: str, port: int | None
) -> None:
    key = make_key(scheme, host, port, "/p", "q=1")
    assert key == make_key(scheme.upper(), host.lower(), port, "/p", "q=1")
    assert key == key.lower().replace("/p?q=1", "/p?q=1")


@given(
    st.lists(
        st.sampled_from(["gzip", "br", "deflate", "identity", "*;q=0", "zstd;q=0.5"]), max_size=5
    ),
    st.randoms(),
)
def test_accept_encoding_order_and_spacing_irrelevant_rfc9111_4_1(codings: list[str], rnd) -> None:  # type: ignore[no-untyped-def]
    shuffled = list(codings)
    rnd.shuffle(shuffled)
    a = normalize_field(b"accept-encoding", [", ".join(codings).encode()]) if codings else None
    b = (
        normalize_field(b"accept-encoding", [c.upper().encode() for c in shuffled])
        if shuffled
        else None
    )
    assert a == b


@given(st.lists(st.text(alphabet="abcdefghij \t,", max_size=8), max_size=4))
def test_vary_normalisation_idempotent_rfc9111_4_1(lines: list[str]) -> None:
    for name in (b"accept-encoding", b"accept-language", b"x-other"):
        once = normalize_field(name, [line.encode() for line in lines])
        if once is not None:
            assert normalize_field(name, [once]) == once


@given(st.lists(st.text(alphabet='abc," \\', max_size=10), max_size=3))
def test_split_list_members_trimmed_and_non_empty_rfc9110_5_6_1(values: list[str]) -> None:
    for v in values:
        for m in split_list(v.encode()):
            assert m and m == m.strip(b" \t")


@given(st.integers(0, 10**6), st.text(alphabet="0123456789-,= bytes", max_size=20))
def test_range_resolution_within_bounds_rfc9110_14_1_1(length: int, value: str) -> None:
    out = parse_range(value.encode(), length)
    if isinstance(out, tuple):
        start, end = out
        assert 0 <= start < end <= length


@given(st.lists(st.text(alphabet="abcXYZ-_:09", min_size=1, max_size=8), max_size=6, unique=True))
def test_tags_round_trip(tags: list[str]) -> None:
    assert parse_tags([(b"surrogate-key", format_tags(tuple(tags)))], (b"surrogate-key",)) == tuple(
        tags
    )


@given(
    st.booleans(),
    st.one_of(st.none(), st.sampled_from(list(Fwd))),
    st.one_of(st.none(), st.integers(-(10**6), 10**6)),
    st.booleans(),
    st.one_of(st.none(), st.text(alphabet='ab ;"\\=x', max_size=8)),
)
def test_cache_status_round_trip_rfc9211(
    hit: bool, fwd: Fwd | None, ttl: int | None, stored_: bool, detail: str | None
) -> None:
    name, params = parse_member(
        cache_status(hit=hit, fwd=fwd, ttl=ttl, stored=stored_, detail=detail)
    )
    assert name == "frontdesk"
    assert params.get("hit", False) == hit
    assert params.get("fwd") == (fwd.value if fwd else None)
    assert params.get("ttl") == ttl
    assert params.get("stored", False) == stored_
    if detail is not None and detail:
        assert params.get("detail") == detail


@given(
    st.one_of(st.none(), st.integers(0, 10**9)),
    st.one_of(st.none(), st.integers(0, 10**9)),
    st.one_of(st.none(), st.integers(-(10**6), 10**8)),
    st.one_of(st.none(), st.integers(0, 10**8)),
)
def test_freshness_lifetime_precedence_rfc9111_4_2_1(
    smax: int | None, maxage: int | None, expires_in: int | None, lm_ago: int | None
) -> None:
    """s-maxage, else max-age, else Expires - Date, else 10% of Date - Last-Modified."""
    from frontdesk.cache.freshness import freshness_lifetime
    from frontdesk.http.dates import format_http_date

    parts = [f"s-maxage={smax}"] if smax is not None else []
    parts += [f"max-age={maxage}"] if maxage is not None else []
    cc = parse_cache_control([", ".join(parts).encode()] if parts else [])
    expires = [format_http_date(T0 + expires_in).encode()] if expires_in is not None else []
    lm = T0 - lm_ago if lm_ago is not None else None
    got, heuristic = freshness_lifetime(cc, 200, T0, expires, lm, _OPTS)
    if smax is not None:
        assert got == smax and not heuristic
    elif maxage is not None:
        assert got == maxage and not heuristic
    elif expires_in is not None:
        assert got == max(0, expires_in) and not heuristic
    elif lm_ago is not None:
        assert got == min(lm_ago * 0.1, 86400.0)
    else:
        assert got == 0


@given(st.floats(min_value=0, max_value=1e12, allow_nan=False))
def test_age_format_parse_round_trip_rfc9111_5_1(age: float) -> None:
    from frontdesk.cache.freshness import age_value

    assert age_value([format_age(age)]) == min(int(age), DELTA_MAX)


_field_names = st.sampled_from(
    [
        b"Cache-Control",
        b"cache-control",
        b"Expires",
        b"Date",
        b"Age",
        b"ETag",
        b"Last-Modified",
        b"Vary",
        b"Set-Cookie",
        b"Content-Length",
        b"Connection",
        b"Pragma",
        b"Surrogate-Key",
        b"If-None-Match",
        b"If-Modified-Since",
        b"Range",
        b"If-Range",
        b"Accept-Encoding",
        b"Authorization",
        b"If-Match",
    ]
)
_field_values = st.one_of(
    st.sampled_from(
        [
            b"max-age=10",
            b"no-cache",
            b"no-store",
            b"private",
            b"public",
            b"s-maxage=5",
            b"must-revalidate",
            b"stale-while-revalidate=30",
            b"stale-if-error=30",
            b"max-stale",
            b"min-fresh=5",
            b"only-if-cached",
            b'"a"',
            b'W/"a"',
            b"*",
            b"accept-encoding",
            b"0",
            b"bytes=0-5",
            b"bytes=-3",
            b"gzip",
            b"Tue, 14 Nov 2023 22:13:20 GMT",
            b"10",
            b"x",
        ]
    ),
    st.binary(max_size=12),
)
_fields = st.lists(st.tuples(_field_names, _field_values), max_size=8)


@given(
    _fields,
    _fields,
    _fields,
    st.integers(100, 599),
    st.floats(0, 10**6),
    st.sampled_from([b"GET", b"HEAD"]),
)
def test_policy_total_on_arbitrary_fields(
    resp_fields: list[tuple[bytes, bytes]],
    req1: list[tuple[bytes, bytes]],
    req2: list[tuple[bytes, bytes]],
    status: int,
    later: float,
    method: bytes,
) -> None:
    """No field content makes the policy raise: store, decide, answer, freshen."""
    from frontdesk.cache.messages import CacheRequest, OriginResponse
    from frontdesk.cache.policy import on_response
    from frontdesk.cache.serve import answer
    from frontdesk.cache.validation import freshen

    first = CacheRequest(method, "https", "example.com", None, "/", "", tuple(req1))
    resp = OriginResponse(status, tuple(resp_fields), T0 - 1, T0, 10, True)
    stored_ = on_response(first, resp, _OPTS)
    entries = [stored_.entry] if stored_.entry is not None else []
    second = CacheRequest(method, "https", "example.com", None, "/", "", tuple(req2))
    d = decide(second, entries, T0 + later, _OPTS)
    if d.action is Action.HIT:
        assert d.entry is not None and d.ttl > 0
    if d.entry is not None and d.action in (Action.HIT, Action.STALE_HIT, Action.STALE_REVALIDATE):
        a = answer(method, second.headers, d.entry, T0 + later)
        assert a.status in (d.entry.status, 206, 304, 416)
    if d.action is Action.VALIDATE:
        freshen(
            d.validating, OriginResponse(304, tuple(resp_fields), T0, T0 + later, 0, True), _OPTS
        )

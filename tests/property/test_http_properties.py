"""Properties of the pure HTTP modules (hypothesis)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from frontdesk.http.dates import format_http_date, parse_http_date
from frontdesk.http.routing import Matcher
from frontdesk.http.target import normalize_path, parse_host

segment = st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=0x2FF), max_size=8)
paths = st.lists(st.one_of(segment, st.sampled_from([".", "..", ""])), max_size=8).map(
    lambda parts: "/" + "/".join(parts)
)


@given(paths)
def test_normalised_path_is_a_fixed_point_without_dot_segments(raw: str) -> None:
    norm = normalize_path(raw)
    if norm is None:
        return
    assert norm.startswith("/")
    assert "//" not in norm
    segments = norm.split("/")
    assert "." not in segments and ".." not in segments
    # Normalising again changes nothing (for paths without "%", decoding is a no-op).
    if "%" not in norm:
        assert normalize_path(norm) == norm


@given(st.binary(max_size=64))
def test_parse_host_never_raises_and_is_lowercase(raw: bytes) -> None:
    host = parse_host(raw)
    if host is not None:
        assert host == host.lower()
        assert not host.endswith(".")


labels = st.from_regex(r"[a-z0-9]{1,8}", fullmatch=True)


@given(st.lists(labels, min_size=1, max_size=3), st.lists(labels, min_size=1, max_size=3))
def test_wildcard_host_matches_exactly_the_subdomains(sub: list[str], base: list[str]) -> None:
    apex = ".".join(base)
    m = Matcher.build(hosts=["*." + apex])
    assert m.matches(b"GET", ".".join(sub) + "." + apex, "/", [])
    assert not m.matches(b"GET", apex, "/", [])


@given(st.text(max_size=20), st.text(max_size=20))
def test_prefix_match_is_startswith(prefix: str, path: str) -> None:
    prefix = "/" + prefix
    path = "/" + path
    m = Matcher.build(prefix=prefix)
    assert m.matches(b"GET", "", path, []) == (prefix == "/" or path.startswith(prefix))


@given(st.integers(min_value=0, max_value=2**33))
def test_http_date_round_trip(epoch: int) -> None:
    assert parse_http_date(format_http_date(epoch)) == epoch


_DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


@given(st.integers(min_value=0, max_value=2**33))
def test_http_date_three_forms_agree(epoch: int) -> None:
    """RFC 9110 §5.6.7: the same instant in each of the three forms parses the same."""
    import time

    t = time.gmtime(epoch)
    imf = format_http_date(epoch)
    asctime = time.strftime("%a %b ", t) + f"{t.tm_mday:2d}" + time.strftime(" %H:%M:%S %Y", t)
    assert parse_http_date(imf) == epoch
    assert parse_http_date(asctime) == epoch
    if 1969 <= t.tm_year <= 2068:  # the two-digit years this module pivots
        rfc850 = f"{_DAY_NAMES[t.tm_wday]}, " + time.strftime("%d-%b-%y %H:%M:%S GMT", t)
        assert parse_http_date(rfc850) == epoch


@given(
    st.integers(min_value=0, max_value=2**33),
    st.sampled_from([(" GMT", " UTC"), (", ", " "), (" ", "  "), (":", "."), (" GMT", "")]),
)
def test_http_date_any_deviation_is_not_a_date(epoch: int, change: tuple[str, str]) -> None:
    """A well-formed IMF-fixdate with one separator or the zone altered is no date."""
    old, new = change
    assert parse_http_date(format_http_date(epoch).replace(old, new, 1)) is None

"""proxy/rewrite.py: the target sent upstream, and path rewrites (pure)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from frontdesk.http.target import parse_target
from frontdesk.proxy.rewrite import NO_REWRITE, PathRewrite, upstream_target

STRIP = PathRewrite(strip_prefix="/api")
REPLACE = PathRewrite(replace_from="/old/", replace_to="/new/")
REGEX = PathRewrite(regex=re.compile(r"^/u/(\d+)$"), regex_to=r"/users/\1")


def target(raw: bytes, rewrite: PathRewrite = NO_REWRITE) -> bytes:
    parsed = parse_target(raw, b"GET")
    assert parsed is not None
    return upstream_target(raw, parsed.path, parsed.query, rewrite)


@pytest.mark.parametrize(
    ("raw", "rewrite", "expected"),
    [
        (b"/a/b?x=1", NO_REWRITE, b"/a/b?x=1"),
        (b"/a%2Fb", NO_REWRITE, b"/a%2Fb"),  # an encoding the app may rely on is kept
        (b"/a/../b", NO_REWRITE, b"/b"),  # what routing saw is what the backend sees
        (b"//a///b", NO_REWRITE, b"/a/b"),
        (b"http://h.example/x?y", NO_REWRITE, b"/x?y"),  # absolute-form → origin-form
        (b"/api/users?id=2", STRIP, b"/users?id=2"),
        (b"/api", STRIP, b"/"),
        (b"/other", STRIP, b"/other"),
        (b"/old/x/y", REPLACE, b"/new/x/y"),
        (b"/older", REPLACE, b"/older"),
        (b"/u/42", REGEX, b"/users/42"),
        (b"/u/x", REGEX, b"/u/x"),
        (b"/api/a%20b", STRIP, b"/a%20b"),
    ],
)
def test_upstream_target(raw: bytes, rewrite: PathRewrite, expected: bytes) -> None:
    assert target(raw, rewrite) == expected


def test_asterisk_form() -> None:
    assert upstream_target(b"*", "*", "", NO_REWRITE) == b"*"


SEGMENT = st.text(alphabet="abc.%2F/~-_ é", max_size=8)


@given(st.lists(SEGMENT, max_size=5), st.sampled_from([NO_REWRITE, STRIP, REPLACE]))
def test_property_backend_path_means_the_routed_path(segments, rewrite) -> None:
    from urllib.parse import quote

    raw = ("/" + "/".join(quote(s, safe="/%") for s in segments)).encode()
    parsed = parse_target(raw, b"GET")
    if parsed is None:
        return  # refused with 400 before any proxying
    out = upstream_target(raw, parsed.path, parsed.query, rewrite)
    assert out.startswith(b"/")
    again = parse_target(out, b"GET")
    assert again is not None
    expected = rewrite.apply(parsed.path) if rewrite.active else parsed.path
    assert again.path == parse_target(quote(expected, safe="/").encode(), b"GET").path  # type: ignore[union-attr]

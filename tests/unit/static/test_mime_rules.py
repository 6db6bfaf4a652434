"""Content types and Cache-Control glob rules."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from frontdesk.static.mime import MimeTable, compressible
from frontdesk.static.rules import IMMUTABLE, CacheRules, glob_regex, is_hashed


@pytest.mark.parametrize(
    "name, expected",
    [
        ("a.html", "text/html; charset=utf-8"),
        ("a.CSS", "text/css; charset=utf-8"),
        ("app.js", "text/javascript; charset=utf-8"),
        ("a.png", "image/png"),
        ("a.svg", "image/svg+xml; charset=utf-8"),
        ("a.woff2", "font/woff2"),
        ("noext", "application/x-custom"),
        ("x.tar.gz", "application/gzip"),
        ("site.webmanifest", "application/manifest+json"),
    ],
)
def test_content_type(name: str, expected: str) -> None:
    assert MimeTable({}, "application/x-custom", "utf-8").content_type(name) == expected


def test_extra_types_and_no_charset() -> None:
    table = MimeTable({".foo": "text/x-foo"}, "application/octet-stream", "")
    assert table.content_type("a.FOO") == "text/x-foo"
    assert table.content_type("a.txt") == "text/plain"


def test_compressible() -> None:
    assert compressible("text/css; charset=utf-8")
    assert compressible("application/ld+json")
    assert not compressible("image/png")
    assert not compressible("font/woff2")


def test_cache_rules_first_match_and_scope() -> None:
    rules = CacheRules(
        {
            "*.[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f].js": "immutable",
            "assets/**": "assets",
            "*.html": "no-cache",
        },
        "default",
        "short",
    )
    assert rules.value_for("js/app.3f2a9c1b.js") == "immutable"
    assert rules.value_for("js/app.js") == "default"
    assert rules.value_for("assets/deep/x.png") == "assets"
    assert rules.value_for("docs/index.html") == "no-cache"
    assert rules.value_for("other/assets/x.png") == "default"


@pytest.mark.parametrize(
    ("name", "hashed"),
    [
        ("app.3f2a9c1e.js", True),  # webpack [contenthash:8]
        ("main.0a1b2c3d4e5f.min.css", True),  # Django ManifestStaticFilesStorage: 12
        ("x.deadbeefcafe.png", True),
        ("app.js", False),
        ("app.3f2a9c1.js", False),  # 7 digits: too short to be a content hash
        ("report.20240101.pdf", False),  # all digits: a date, a version
        ("deadbeef.js", False),  # the first segment is the name
        ("app.3f2a9c1e", False),  # the last segment is the extension
        ("app.3F2A9C1E.js", False),  # hashes are written in lower case
        ("app-3f2a9c1e.js", False),  # a dash is not a dot
    ],
)
def test_content_hash_in_a_file_name(name: str, hashed: bool) -> None:
    assert is_hashed(name) is hashed


def test_static_defaults_hashed_immutable_others_short_explicit_wins() -> None:
    defaults = CacheRules({"*.html": "no-cache"}, None, "public, max-age=60")
    assert defaults.value_for("js/app.3f2a9c1e.js") == IMMUTABLE
    assert IMMUTABLE == "public, max-age=31536000, immutable"
    assert defaults.value_for("js/app.js") == "public, max-age=60"
    assert defaults.value_for("index.3f2a9c1e.html") == "no-cache"  # a rule first
    explicit = CacheRules({}, "private", "public, max-age=60")
    assert explicit.value_for("js/app.3f2a9c1e.js") == "private"
    assert explicit.value_for("js/app.js") == "private"
    assert CacheRules({}, "", "x").value_for("app.3f2a9c1e.js") == ""  # "" sends none


@given(
    st.from_regex(r"[a-z]{1,8}", fullmatch=True), st.from_regex(r"[0-9a-f]{8,20}", fullmatch=True)
)
def test_any_hex_hash_with_a_letter_is_found(stem: str, digest: str) -> None:
    name = f"{stem}.{digest}.js"
    assert is_hashed(name) is any(c in "abcdef" for c in digest)


def test_star_does_not_cross_slash() -> None:
    assert glob_regex("a/*.css").match("a/b.css")
    assert not glob_regex("a/*.css").match("a/b/c.css")
    assert glob_regex("[!x]y").match("ay") and not glob_regex("[!x]y").match("xy")

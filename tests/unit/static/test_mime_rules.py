"""Content types and Cache-Control glob rules."""

from __future__ import annotations

import pytest

from frontdesk.static.mime import MimeTable, compressible
from frontdesk.static.rules import CacheRules, glob_regex


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
    )
    assert rules.value_for("js/app.3f2a9c1b.js") == "immutable"
    assert rules.value_for("js/app.js") == "default"
    assert rules.value_for("assets/deep/x.png") == "assets"
    assert rules.value_for("docs/index.html") == "no-cache"
    assert rules.value_for("other/assets/x.png") == "default"


def test_star_does_not_cross_slash() -> None:
    assert glob_regex("a/*.css").match("a/b.css")
    assert not glob_regex("a/*.css").match("a/b/c.css")
    assert glob_regex("[!x]y").match("ay") and not glob_regex("[!x]y").match("xy")

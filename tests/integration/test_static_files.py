"""Real-socket tests of the `static` action: files, types, directories, methods,
validators and conditional requests, Cache-Control, compression and ranges.

Most tests run twice, against a server that sends files from disk with sendfile(2)
and one that reads and writes them (`sendfile = false`).
"""

from __future__ import annotations

import gzip
import os

import brotli
import pytest
from static_site import (
    BIG,
    SECRET,
    content,
    make_site,
    parse_multipart,
    request,
    until_changed,
)

HASHED = "*." + "[0-9a-f]" * 8 + ".js"  # fingerprinted bundles: app.3f2a9c1b.js

ROUTES = """
[[route]]
match = {{ path = "/static/" }}
[route.static]
root = "{root}"
sendfile = {sendfile}
cache_control = "public, max-age=60"
cache_rules = {{ "{hashed}" = "public, max-age=31536000, immutable", "*.html" = "no-cache" }}

[[route]]
match = {{ path = "/listed/" }}
static = {{ root = "{root}", listing = true, index = [] }}

[[route]]
match = {{ path = "/spa/" }}
static = {{ root = "{root}", fallback = "index.html" }}

[[route]]
match = {{ path = "/raw/" }}
static = {{ root = "{root}", precompressed = [], compress = false, etag = "hash" }}

[[route]]
match = {{ path = "/nocc/" }}
static = {{ root = "{root}", cache_control = "" }}

[[route]]
match = {{ path = "/short/" }}
static = {{ root = "{root}", default_cache_control = "no-cache" }}
"""


@pytest.fixture(scope="module", params=[True, False], ids=["sendfile", "readwrite"])
def site(request, module_server, tmp_path_factory):
    base = tmp_path_factory.mktemp("site")
    root = make_site(base)
    server = module_server(
        ROUTES.format(root=root, sendfile="true" if request.param else "false", hashed=HASHED),
        write_timeout="2s",
    )
    return server, root


def get(site, target, method="GET", **headers):
    server, _ = site
    with server.connect() as c:
        return request(c, target, method, **headers)


# --------------------------------------------------------------------- files, types


@pytest.mark.parametrize(
    "target, ctype, body",
    [
        ("/static/hello.txt", "text/plain; charset=utf-8", b"hello world\n"),
        ("/static/noext", "application/octet-stream", b"raw"),
        ("/static/image.png", "image/png", None),
        ("/static/caf%C3%A9%20%26%20%3Cb%3E.txt", "text/plain; charset=utf-8", b"accent\n"),
        ("/static/link.txt", "text/plain; charset=utf-8", b"hello world\n"),
    ],
)
def test_file_with_type_and_validators(site, target, ctype, body):
    resp = get(site, target)
    assert resp.status == 200
    assert resp.header("content-type") == ctype
    if body is not None:
        assert resp.body == body
    assert resp.header("accept-ranges") == "bytes"
    assert resp.header(
        "etag",
    ).startswith('"') and resp.header("etag").endswith('"')
    assert resp.header("last-modified").endswith(" GMT")
    assert int(resp.header("content-length")) == len(resp.body)


def test_big_file_is_byte_exact(site):
    resp = get(site, "/static/big.bin")
    assert resp.status == 200
    assert resp.body == content(BIG)


def test_memory_file_is_byte_exact_and_hot_path_repeats(site):
    server, root = site
    want = (root / "data.bin").read_bytes()
    with server.connect() as c:
        bodies = [request(c, "/static/data.bin").body for _ in range(5)]
    assert bodies == [want] * 5


def test_pipelined_mix_of_memory_and_disk_answers_stays_in_order(site):
    server, root = site
    targets = [
        "/static/hello.txt",
        "/static/big.bin",
        "/static/hello.txt",
        "/static/nope",
        "/static/data.bin",
        "/static/big.bin",
        "/static/hello.txt",
    ]
    raw = b"".join(f"GET {t} HTTP/1.1\r\nHost: t\r\n\r\n".encode() for t in targets)
    with server.connect() as c:
        c.send(raw)
        got = [c.read_response(timeout=10) for _ in targets]
    assert [r.status for r in got] == [200, 200, 200, 404, 200, 200, 200]
    assert got[1].body == content(BIG) and got[5].body == content(BIG)
    assert got[4].body == (root / "data.bin").read_bytes()
    assert got[6].body == b"hello world\n"


def test_head_has_get_headers_and_no_body(site):
    for target in ("/static/hello.txt", "/static/big.bin"):
        g = get(site, target)
        h = get(site, target, "HEAD")
        assert h.status == 200 and h.body == b""
        assert h.header("content-length") == g.header("content-length")
        assert h.header("etag") == g.header("etag")


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "OPTIONS", "PATCH"])
def test_only_get_and_head(site, method):
    resp = get(site, "/static/hello.txt", method, content_length="0")
    assert resp.status == 405
    assert resp.header("allow") == "GET, HEAD"


# ------------------------------------------------------------------ directories


def test_index_and_directory_redirect(site):
    assert get(site, "/static/").body == b"<h1>home</h1>\n"
    assert get(site, "/static/sub/").body == b"<h1>sub</h1>\n"
    resp = get(site, "/static/sub?x=1")
    assert resp.status == 301
    assert resp.header("location") == "/static/sub/?x=1"
    assert get(site, "/static/empty/").status == 404  # no index, no listing


def test_listing_escapes_names_and_hides_dotfiles(site):
    resp = get(site, "/listed/list/")
    assert resp.status == 200
    assert resp.header("content-type") == "text/html; charset=utf-8"
    page = resp.body.decode()
    assert "a&lt;x&gt;.txt" in page and "a%3Cx%3E.txt" in page
    assert "<x>" not in page
    assert "inner/" in page
    assert ".hidden" not in page
    assert 'href="../"' in page


def test_listing_off_by_default(site):
    assert get(site, "/static/list/").status == 404


def test_spa_fallback(site):
    resp = get(site, "/spa/some/client/route")
    assert (resp.status, resp.body) == (200, b"<h1>home</h1>\n")
    assert get(site, "/spa/hello.txt").body == b"hello world\n"
    assert get(site, "/spa/.env").status == 404  # hidden stays hidden
    assert get(site, "/static/some/client/route").status == 404


# ---------------------------------------------------------------- Cache-Control


def test_cache_control_per_route_and_glob(site):
    assert get(site, "/static/hello.txt").header("cache-control") == "public, max-age=60"
    assert get(site, "/static/app.3f2a9c1b.js").header("cache-control") == (
        "public, max-age=31536000, immutable"
    )
    assert get(site, "/static/page.html").header("cache-control") == "no-cache"


def test_static_defaults_caches_understand(site):
    """Issue 17: without cache_control, a content-hashed name is immutable for a year
    and any other file gets the short default; an explicit cache_control (even "")
    replaces both."""
    assert get(site, "/listed/hello.txt").header("cache-control") == "public, max-age=60"
    assert get(site, "/listed/app.3f2a9c1b.js").header("cache-control") == (
        "public, max-age=31536000, immutable"
    )
    assert get(site, "/short/hello.txt").header("cache-control") == "no-cache"
    assert get(site, "/short/app.3f2a9c1b.js").header("cache-control") == (
        "public, max-age=31536000, immutable"
    )
    assert get(site, "/nocc/hello.txt").header("cache-control") is None
    assert get(site, "/nocc/app.3f2a9c1b.js").header("cache-control") is None


# -------------------------------------------------------- conditional requests


@pytest.mark.parametrize("target", ["/static/hello.txt", "/static/big.bin", "/raw/hello.txt"])
def test_rfc9110_13_conditionals(site, target):
    first = get(site, target)
    etag, lm = first.header("etag"), first.header("last-modified")
    r = get(site, target, if_none_match=etag)
    assert (r.status, r.body) == (304, b"")
    # RFC 9110 §15.4.5: the 304 carries ETag and Cache-Control as the 200 does, and no
    # content metadata.
    assert r.header("etag") == etag
    assert r.header("cache-control") == first.header("cache-control")
    assert r.header("content-length") is None and r.header("content-type") is None
    assert r.header("date") is not None
    assert get(site, target, if_none_match='"other"').status == 200
    assert get(site, target, if_modified_since=lm).status == 304
    assert get(site, target, if_modified_since="Thu, 01 Jan 1970 00:00:00 GMT").status == 200
    assert get(site, target, if_match='"other"').status == 412
    assert get(site, target, if_match=etag).status == 200
    assert get(site, target, if_unmodified_since="Thu, 01 Jan 1970 00:00:00 GMT").status == 412
    assert get(site, target, "HEAD", if_none_match=etag).status == 304
    # §13.2.2: If-None-Match is evaluated, If-Modified-Since then ignored
    assert get(site, target, if_none_match='"x"', if_modified_since=lm).status == 200


def test_etag_mode_hash_is_content_based(site):
    _, root = site
    etag = get(site, "/raw/hello.txt").header("etag")
    import hashlib

    assert etag == '"' + hashlib.blake2b(b"hello world\n", digest_size=16).hexdigest() + '"'


# ------------------------------------------------------------------ compression


def test_precompressed_siblings_by_q_value(site):
    _, root = site
    style = (root / "style.css").read_bytes()
    br = get(site, "/static/style.css", accept_encoding="gzip, br")
    assert br.header("content-encoding") == "br"
    assert brotli.decompress(br.body) == style
    gz = get(site, "/static/style.css", accept_encoding="br;q=0.5, gzip;q=0.9")
    assert gz.header("content-encoding") == "gzip"
    assert gzip.decompress(gz.body) == style
    zst = get(site, "/static/style.css", accept_encoding="zstd, gzip;q=0.5")
    assert zst.header("content-encoding") == "zstd"
    assert zst.body == (root / "style.css.zst").read_bytes()
    plain = get(site, "/static/style.css")
    assert plain.header("content-encoding") is None and plain.body == style
    tags = {r.header("etag") for r in (br, gz, zst, plain)}
    assert len(tags) == 4  # one ETag per representation
    for r in (br, gz, plain):
        assert r.header("vary") == "Accept-Encoding"
    # The 304 for one encoding is not the 304 for another.
    assert (
        get(site, "/static/style.css", accept_encoding="br", if_none_match=br.header("etag")).status
        == 304
    )
    assert (
        get(
            site, "/static/style.css", accept_encoding="gzip", if_none_match=br.header("etag")
        ).status
        == 200
    )


def test_sibling_older_than_the_file_is_not_served(site):
    _, root = site
    r = get(site, "/static/stale.css", accept_encoding="gzip")
    assert r.header("content-encoding") == "gzip"  # compressed here, from the file
    assert gzip.decompress(r.body) == (root / "stale.css").read_bytes()


def test_on_the_fly_compression(site):
    _, root = site
    page = (root / "page.html").read_bytes()
    br = get(site, "/static/page.html", accept_encoding="br")
    assert br.header("content-encoding") == "br" and brotli.decompress(br.body) == page
    gz = get(site, "/static/page.html", accept_encoding="gzip")
    assert gz.header("content-encoding") == "gzip" and gzip.decompress(gz.body) == page
    assert br.header("vary") == gz.header("vary") == "Accept-Encoding"
    assert br.header("etag") != gz.header("etag")
    # Cached: the same bytes again.
    assert get(site, "/static/page.html", accept_encoding="br").body == br.body


def test_not_compressed_small_or_binary_or_refused(site):
    assert get(site, "/static/hello.txt", accept_encoding="br").header("content-encoding") is None
    assert get(site, "/static/image.png", accept_encoding="br").header("content-encoding") is None
    assert get(site, "/static/image.png").header("vary") is None
    r = get(site, "/static/page.html", accept_encoding="br;q=0, gzip;q=0")
    assert r.header("content-encoding") is None
    assert get(site, "/raw/page.html", accept_encoding="br").header("content-encoding") is None


def test_range_applies_to_the_encoded_representation(site):
    full = get(site, "/static/style.css", accept_encoding="br")
    part = get(site, "/static/style.css", accept_encoding="br", range="bytes=3-20")
    assert part.status == 206
    assert part.header("content-encoding") == "br"
    assert part.body == full.body[3:21]
    assert part.header("content-range") == f"bytes 3-20/{len(full.body)}"


# ----------------------------------------------------------------------- ranges


@pytest.mark.parametrize("target", ["/static/data.bin", "/static/big.bin"])
@pytest.mark.parametrize(
    "spec, start, end",
    [("0-0", 0, 0), ("10-99", 10, 99), ("-100", None, 100), ("65000-", 65000, None)],
)
def test_rfc9110_14_single_range(site, target, spec, start, end):
    _, root = site
    data = (root / target.rsplit("/", 1)[1]).read_bytes()
    size = len(data)
    if start is None:
        first, last = size - end, size - 1
    else:
        first, last = start, size - 1 if end is None else end
    r = get(site, target, range="bytes=" + spec)
    assert r.status == 206
    assert r.header("content-range") == f"bytes {first}-{last}/{size}"
    assert r.body == data[first : last + 1]
    assert r.header("content-type") == "application/octet-stream"


@pytest.mark.parametrize("target", ["/static/data.bin", "/static/big.bin"])
def test_rfc9110_14_6_multipart_byteranges(site, target):
    _, root = site
    data = (root / target.rsplit("/", 1)[1]).read_bytes()
    r = get(site, target, range="bytes=500-599, 0-9, 60000-60009")
    assert r.status == 206
    ctype = r.header("content-type")
    assert ctype.startswith("multipart/byteranges; boundary=")
    boundary = ctype.split("boundary=", 1)[1].encode()
    assert int(r.header("content-length")) == len(r.body)
    parts = parse_multipart(r.body, boundary)
    assert [p[1] for p in parts] == [data[0:10], data[500:600], data[60000:60010]]
    assert [p[0]["content-range"] for p in parts] == [
        f"bytes 0-9/{len(data)}",
        f"bytes 500-599/{len(data)}",
        f"bytes 60000-60009/{len(data)}",
    ]
    assert all(p[0]["content-type"] == "application/octet-stream" for p in parts)


def test_overlapping_ranges_coalesce_and_excessive_ones_are_ignored(site):
    _, root = site
    data = (root / "data.bin").read_bytes()
    r = get(site, "/static/data.bin", range="bytes=0-99, 50-149, 100-199")
    assert (r.status, r.header("content-range"), r.body) == (
        206,
        f"bytes 0-199/{len(data)}",
        data[:200],
    )
    many = ",".join(f"{i * 1000}-{i * 1000 + 1}" for i in range(40))
    r = get(site, "/static/data.bin", range="bytes=" + many)
    assert r.status == 200 and r.body == data  # more than max_ranges: whole file
    amplify = ",".join(["0-"] * 200)
    r = get(site, "/static/data.bin", range="bytes=" + amplify)
    assert len(r.body) <= len(data)


def test_rfc9110_15_5_17_unsatisfiable(site):
    r = get(site, "/static/hello.txt", range="bytes=100-")
    assert r.status == 416
    assert r.header("content-range") == "bytes */12"


def test_invalid_range_is_ignored(site):
    r = get(site, "/static/hello.txt", range="bytes=5-2")
    assert (r.status, r.body) == (200, b"hello world\n")
    assert get(site, "/static/hello.txt", range="bytes=0-1").status == 206


def test_rfc9110_13_1_5_if_range(site):
    first = get(site, "/static/big.bin")
    etag, lm = first.header("etag"), first.header("last-modified")
    assert get(site, "/static/big.bin", range="bytes=0-3", if_range=etag).status == 206
    assert get(site, "/static/big.bin", range="bytes=0-3", if_range=lm).status == 206
    stale = get(site, "/static/big.bin", range="bytes=0-3", if_range='"stale"')
    assert stale.status == 200 and len(stale.body) == BIG
    assert get(site, "/static/hello.txt", "HEAD", range="bytes=0-3").status == 200


# ----------------------------------------------------------------- invalidation


def test_changed_file_is_served_within_about_a_second(site):
    server, root = site
    path = root / "changing.txt"
    path.write_text("one")
    with server.connect() as c:
        assert request(c, "/static/changing.txt").body == b"one"
        first_tag = request(c, "/static/changing.txt").header("etag")
        path.write_text("two, longer")
        resp = until_changed(c, "/static/changing.txt", b"one", lambda r: r.body)
        assert resp.body == b"two, longer"
        assert resp.header("etag") != first_tag
        os.remove(path)
        status = until_changed(c, "/static/changing.txt", 200, lambda r: r.status).status
        assert status == 404


def test_no_secret_ever_in_any_answer_so_far(site):
    server, _ = site
    assert b"Traceback" not in server.stderr_path.read_bytes()
    assert SECRET not in get(site, "/static/.env").body

"""A static site on disk for the integration tests, and request helpers."""

from __future__ import annotations

import gzip
import os
import time
from pathlib import Path

import brotli

import leakcheck

# Files outside the root are protected content: they carry the session's canary, so the
# suite's leak check (tests/leakcheck.py) watches every refusal of a traversal too.
SECRET = b"TOPSECRET-outside-root-" + leakcheck.CANARY.encode()
BIG = 3 * 1024 * 1024 + 17  # over memory_cache_max_file: streamed from disk


def content(size: int, seed: int = 7) -> bytes:
    # Every offset distinct enough that a misplaced range shows up.
    block = bytes((i * 31 + seed) % 251 for i in range(4093))
    return (block * (size // len(block) + 1))[:size]


def make_site(base: Path) -> Path:
    """base/public is the root; base/secret.txt and friends are outside it."""
    root = base / "public"
    (root / "sub").mkdir(parents=True)
    (root / "empty").mkdir()
    (root / "list" / "inner").mkdir(parents=True)
    (root / "index.html").write_text("<h1>home</h1>\n")
    (root / "sub" / "index.html").write_text("<h1>sub</h1>\n")
    (root / "hello.txt").write_text("hello world\n")
    (root / "page.html").write_bytes(b"<p>" + b"static " * 400 + b"</p>\n")
    (root / "app.3f2a9c1b.js").write_bytes(b"console.log('x');\n" * 200)
    (root / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n" + content(5000))
    (root / "data.bin").write_bytes(content(70_000))
    (root / "big.bin").write_bytes(content(BIG))
    (root / "noext").write_bytes(b"raw")
    (root / "caf\u00e9 & <b>.txt").write_text("accent\n")
    style = b"body { color: red; }\n" * 300
    (root / "style.css").write_bytes(style)
    (root / "style.css.br").write_bytes(brotli.compress(style))
    (root / "style.css.gz").write_bytes(gzip.compress(style, mtime=0))
    (root / "style.css.zst").write_bytes(b"(zstd frame stand-in)")  # served as is
    (root / "stale.css").write_bytes(b"p { margin: 0 }\n" * 100)
    (root / "stale.css.gz").write_bytes(gzip.compress(b"old content", mtime=0))
    os.utime(root / "stale.css.gz", (1_000_000_000, 1_000_000_000))  # older than stale.css
    (root / "list" / "a<x>.txt").write_text("x")
    (root / "list" / ".hidden").write_text("x")
    (root / ".env").write_bytes(SECRET)
    (root / ".git").mkdir()
    (root / ".git" / "config").write_bytes(SECRET)
    (base / "secret.txt").write_bytes(SECRET)
    (base / "outdir").mkdir()
    (base / "outdir" / "secret.txt").write_bytes(SECRET)
    os.symlink(base / "secret.txt", root / "escape.txt")
    os.symlink(base / "outdir", root / "escape_dir")
    os.symlink("hello.txt", root / "link.txt")
    return root


def request(conn, target: str | bytes, method: str = "GET", **headers: str):
    """One request on `conn` (a RawConn); header names use _ for -."""
    if isinstance(target, str):
        target = target.encode()
    lines = [method.encode() + b" " + target + b" HTTP/1.1", b"Host: t"]
    lines += [f"{k.replace('_', '-')}: {v}".encode("latin-1") for k, v in headers.items()]
    conn.send(b"\r\n".join(lines) + b"\r\n\r\n")
    return conn.read_response(head=method == "HEAD", timeout=10.0)


def until_changed(conn, target: str, old, key, timeout: float = 4.0):
    """Request `target` every 0.2 s until key(response) differs from `old`; the last
    response (the file cache re-checks a file on disk about once a second)."""
    deadline = time.monotonic() + timeout
    while True:
        time.sleep(0.2)
        resp = request(conn, target)
        if key(resp) != old or time.monotonic() > deadline:
            return resp


def parse_multipart(body: bytes, boundary: bytes) -> list[tuple[dict[str, str], bytes]]:
    """Parts of a multipart/byteranges body, checked strictly against RFC 2046 framing."""
    assert body.startswith(b"\r\n--" + boundary + b"\r\n") or body.startswith(
        b"--" + boundary + b"\r\n"
    ), body[:80]
    assert body.endswith(b"\r\n--" + boundary + b"--\r\n"), body[-80:]
    chunks = body.split(b"\r\n--" + boundary)
    parts = []
    for chunk in chunks[1:-1]:
        assert chunk.startswith(b"\r\n")
        head, sep, data = chunk[2:].partition(b"\r\n\r\n")
        assert sep
        fields = {}
        for line in head.split(b"\r\n"):
            k, _, v = line.partition(b":")
            fields[k.strip().lower().decode()] = v.strip().decode()
        parts.append((fields, data))
    assert chunks[-1] == b"--\r\n"
    return parts

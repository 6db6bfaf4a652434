"""The `static` route action's settings: serving files from a directory tree."""

from __future__ import annotations

import os
import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ValidationInfo, field_validator

from .types import MODEL_CONFIG, Count, Size

ENCODINGS = ("br", "zstd", "gzip")
"""Content codings with a pre-compressed sibling suffix (see `precompressed`)."""

_MIME_RE = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+/[!#$%&'*+\-.^_`|~0-9A-Za-z]+")


def _one_or_many(value: object) -> object:
    return (value,) if isinstance(value, str) else value


def _relative_name(value: str) -> str:
    if not value or value.startswith("/") or "\\" in value or "\0" in value:
        raise ValueError(f"must be a file name relative to the directory, got {value!r}")
    if any(part in ("", ".", "..") for part in value.split("/")):
        raise ValueError(f"must not contain empty, '.' or '..' segments, got {value!r}")
    return value


def _fallback(value: str | None) -> str | None:
    if value is None:
        return None
    return _relative_name(value.removeprefix("/"))


def _header_value(value: str) -> str:
    if any(c in value for c in "\r\n\0"):
        raise ValueError("must not contain CR, LF or NUL")
    return value


def _mime(value: str) -> str:
    if not _MIME_RE.fullmatch(value.split(";", 1)[0].strip()):
        raise ValueError(f'expected a media type such as "text/plain", got {value!r}')
    return _header_value(value)


def _types(value: dict[str, str]) -> dict[str, str]:
    out = {}
    for ext, mime in value.items():
        if not ext.startswith(".") or "/" in ext:
            raise ValueError(f'file extensions start with "." (e.g. ".wasm"), got {ext!r}')
        out[ext.lower()] = _mime(mime)
    return out


def _rules(value: dict[str, str]) -> dict[str, str]:
    for pattern, header in value.items():
        if not pattern:
            raise ValueError("a glob pattern must not be empty")
        _header_value(header)
    return value


def _encodings(value: tuple[str, ...]) -> tuple[str, ...]:
    for name in value:
        if name not in ENCODINGS:
            raise ValueError(f"unknown encoding {name!r}; expected some of {', '.join(ENCODINGS)}")
    return value


Names = Annotated[
    tuple[Annotated[str, AfterValidator(_relative_name)], ...], BeforeValidator(_one_or_many)
]


class Static(BaseModel):
    """Serve files from a directory tree. The route's `match.path` prefix is stripped
    from the request path and the rest is looked up under `root` (as nginx `alias`):
    with `match = { path = "/static/" }` and `root = "public"`, /static/app.css is
    public/app.css; with `exact` or `regex` matches the whole path is looked up. Only
    GET and HEAD are answered (405 otherwise)."""

    model_config = MODEL_CONFIG

    root: str
    """Directory to serve. A relative path is relative to the directory of the config
    file (not the working directory). Must exist when the config is loaded. Required."""

    index: Names = ("index.html",)
    """File(s) served for a directory request ending in "/", tried in order; [] for
    none. A directory requested without the trailing "/" is redirected (301) to it.
    Default ["index.html"]."""

    fallback: Annotated[str | None, AfterValidator(_fallback)] = None
    """A file under root served (200) when the requested file does not exist, as nginx
    `try_files $uri $uri/ /index.html` — for single-page apps, e.g. "index.html".
    Hidden or forbidden paths still get 404. Default: none (404)."""

    listing: bool = False
    """Answer a directory with no index file with an HTML listing of its entries
    (hidden ones left out). Default false (404)."""

    default_type: Annotated[str, AfterValidator(_mime)] = "application/octet-stream"
    """Content-Type of files whose extension is not in the type table. Default
    "application/octet-stream"."""

    charset: Annotated[str, AfterValidator(_header_value)] = "utf-8"
    """Charset parameter added to text types (text/*, JavaScript, JSON, XML, SVG); ""
    for none. Default "utf-8"."""

    types: Annotated[dict[str, str], AfterValidator(_types)] = {}
    """Extra extension → media type mappings, over Python's `mimetypes` table, e.g.
    { ".webmanifest" = "application/manifest+json" }. Default none."""

    cache_control: Annotated[str, AfterValidator(_header_value)] | None = None
    """Cache-Control sent with every file of this route, e.g. "public, max-age=3600";
    "" for none. Set, it replaces both defaults below. Default: unset, so a file whose
    name carries a content hash gets "public, max-age=31536000, immutable" and any other
    file `default_cache_control`. A content hash is a dot-separated segment of 8 or more
    lower-case hex digits, at least one of them a letter a-f, that is neither the first
    segment nor the last: app.3f2a9c1e.js, main.0a1b2c3d4e5f.min.css (the names
    webpack, Vite's hex mode, Django's ManifestStaticFilesStorage and WhiteNoise
    write); not app.js, report.20240101.pdf (no letter: a date) or deadbeef.js."""

    default_cache_control: Annotated[str, AfterValidator(_header_value)] = "public, max-age=60"
    """Cache-Control of a file without a content hash in its name, when `cache_control`
    is unset: short, so that a changed file reaches browsers and caches within a minute
    while they still reuse it meanwhile (rather than guess a heuristic lifetime). ""
    for none. Default "public, max-age=60"."""

    cache_rules: Annotated[dict[str, str], AfterValidator(_rules)] = {}
    """Cache-Control per glob pattern, first match wins over `cache_control` and the
    defaults, e.g.
    { "*.[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f].*" =
    "public, max-age=31536000, immutable", "*.html" = "no-cache" }. A pattern with "/"
    matches the path under root, one without matches the file name; "*" does not
    cross "/" in either. Default none."""

    symlinks: Literal["inside", "any", "none"] = "inside"
    """Symbolic links: "inside" follows those whose target stays under root (others
    get 404), "any" follows every link, "none" refuses any link on the path. Default
    "inside"."""

    dotfiles: Literal["hide", "allow"] = "hide"
    """Paths with a segment starting with "." (.git, .env, .htpasswd): "hide" answers
    404 for them and leaves them out of listings, "allow" serves them. Default "hide"."""

    precompressed: Annotated[
        tuple[str, ...], BeforeValidator(_one_or_many), AfterValidator(_encodings)
    ] = ENCODINGS
    """Content codings whose pre-compressed sibling files are served when the client
    accepts them: "br" (file.br), "zstd" (file.zst), "gzip" (file.gz), in this order of
    preference at equal weight. [] to never look. Default ["br", "zstd", "gzip"]."""

    compress: bool = True
    """Compress compressible types (text, JavaScript, JSON, XML, SVG, WebAssembly) on
    the fly with brotli or gzip when the client accepts it and no pre-compressed
    sibling exists. Only files held in the memory cache (up to
    `memory_cache_max_file`) are compressed, once per change, and the compressed
    bodies share that cache's memory; pre-compress larger files. Default true."""

    compress_min_size: Size = 1024
    """Files smaller than this are sent uncompressed. Default "1KB"."""

    etag: Literal["stat", "hash", "off"] = "stat"
    """Strong ETag from "stat" (inode, size, modification time: free to compute),
    "hash" (a BLAKE2 hash of the content, read once per change: stable across
    machines and copies), or "off". Each content coding gets its own tag. Default
    "stat"."""

    max_ranges: Count = 16
    """Most ranges in one request, after overlapping and adjacent ones are merged;
    more and the Range field is ignored (the whole file is sent). Default 16."""

    memory_cache: Size = 64 * 1024 * 1024
    """Memory per worker for small files held ready to send (headers and body, and
    their compressed forms), so a hot file is answered without touching the disk.
    Each file is re-checked on disk (size, modification time, inode) at most once a
    second; the least recently used files are dropped first. Larger files are kept
    as open descriptors (up to 1000 per route), so they too are served without a disk
    lookup. "0" disables both. Default "64MB"."""

    memory_cache_max_file: Size = 1024 * 1024
    """Largest file kept in the memory cache; bigger files are sent from disk with
    sendfile(2). Default "1MB"."""

    sendfile: bool = True
    """Send files from disk with sendfile(2) (zero-copy); false reads and writes them
    in chunks instead. Default true."""

    sendfile_min_size: Size = 32 * 1024
    """Files at least this big are sent with sendfile(2) even when held in the memory
    cache (zero-copy beats copying a large body out of memory; below it, writing from
    memory is faster). Default "32KB"."""

    @field_validator("root")
    @classmethod
    def _root(cls, value: str, info: ValidationInfo) -> str:
        if not value or "\0" in value:
            raise ValueError("must name a directory")
        base = (info.context or {}).get("config_dir") or os.getcwd()
        path = os.path.normpath(os.path.join(base, os.path.expanduser(value)))
        if not os.path.isdir(path):
            raise ValueError(f"directory {path!r} does not exist")
        return path


__all__ = ["Static", "ENCODINGS"]

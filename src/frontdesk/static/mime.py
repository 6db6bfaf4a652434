"""File name → Content-Type, and which types are worth compressing.

The table is Python's own `mimetypes` default table (the same on every machine: the
system's /etc/mime.types is deliberately not read, so a deployment answers what the
tests saw), with the few modern types it lacks or gets wrong, and the route's own
`types`.
"""

from __future__ import annotations

import mimetypes
import posixpath
from collections.abc import Mapping

# Modern web types Python 3.11's table lacks or has differently. RFC 9239 makes
# text/javascript the one JavaScript type; .gz is a file here, not a content coding.
_MODERN = {
    ".js": "text/javascript",
    ".mjs": "text/javascript",
    ".json": "application/json",
    ".map": "application/json",
    ".webmanifest": "application/manifest+json",
    ".wasm": "application/wasm",
    ".webp": "image/webp",
    ".avif": "image/avif",
    ".woff": "font/woff",
    ".woff2": "font/woff2",
    ".ttf": "font/ttf",
    ".otf": "font/otf",
    ".gz": "application/gzip",
    ".br": "application/octet-stream",
    ".zst": "application/zstd",
    ".md": "text/markdown",
}

# Types that get `; charset=...`: text/* and the XML/JavaScript types whose
# registrations define a charset parameter.
_CHARSET_TYPES = frozenset({"application/javascript", "application/xml", "image/svg+xml"})

# Types that shrink when compressed (already-compressed images, audio, video, fonts in
# WOFF2 and archives do not).
_COMPRESSIBLE_PREFIXES = ("text/",)
_COMPRESSIBLE = frozenset(
    {
        "application/javascript",
        "application/json",
        "application/manifest+json",
        "application/xml",
        "application/xhtml+xml",
        "application/wasm",
        "application/rss+xml",
        "application/atom+xml",
        "image/svg+xml",
        "image/x-icon",
        "image/vnd.microsoft.icon",
        "font/ttf",
        "font/otf",
        "application/vnd.ms-fontobject",
    }
)


def _base_table() -> dict[str, str]:
    # MimeTypes() starts from the module's built-in defaults, not the system files.
    table = dict(mimetypes.MimeTypes().types_map[True])
    table.update(_MODERN)
    return {ext.lower(): mime for ext, mime in table.items()}


_TABLE = _base_table()


class MimeTable:
    """Content-Type values for one route, computed once per extension."""

    def __init__(self, extra: Mapping[str, str], default: str, charset: str) -> None:
        self._table = {**_TABLE, **{k.lower(): v for k, v in extra.items()}}
        self._default = default
        self._charset = charset

    def content_type(self, name: str) -> str:
        """The Content-Type field value for a file called `name`."""
        ext = posixpath.splitext(name)[1].lower()
        mime = self._table.get(ext, self._default)
        if self._charset and ";" not in mime and wants_charset(mime):
            return f"{mime}; charset={self._charset}"
        return mime


def wants_charset(mime: str) -> bool:
    return mime.startswith("text/") or mime in _CHARSET_TYPES


def compressible(content_type: str) -> bool:
    mime = content_type.split(";", 1)[0].strip().lower()
    return (
        mime.startswith(_COMPRESSIBLE_PREFIXES)
        or mime in _COMPRESSIBLE
        or (mime.endswith("+json") or mime.endswith("+xml"))
    )

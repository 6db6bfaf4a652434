"""The status page: one HTML file, a script and a stylesheet shipped in the package
(no build step, nothing from a CDN). The script polls GET /status once a second and
draws every chart as inline SVG (admin/assets/status.js)."""

from __future__ import annotations

from functools import cache
from importlib.resources import files

_TYPES = {
    "status.js": "text/javascript; charset=utf-8",
    "status.css": "text/css; charset=utf-8",
}


@cache
def page() -> bytes:
    return files("frontdesk.admin").joinpath("assets", "status.html").read_bytes()


@cache
def asset(name: str) -> tuple[str, bytes] | None:
    """(Content-Type, body) of a bundled asset, or None: only the files listed."""
    content_type = _TYPES.get(name)
    if content_type is None:
        return None
    return content_type, files("frontdesk.admin").joinpath("assets", name).read_bytes()

"""The answer of a `proxy` route whose pool has no server yet: its app is starting.

A pool that an [app.NAME] fills has no member until the first instance passes its
check (or again while every instance is restarting). Rather than a bare 502, the
client gets 503 with Retry-After (RFC 9110 §10.2.3: "the minimum time that the user
agent is asked to wait before issuing the redirected request", here the retry) and
a short page, or `[server] starting_page`; a platform's router (Heroku) and a
browser both take that as "try again soon".
"""

from __future__ import annotations

RETRY_AFTER = b"2"  # seconds; an instance is checked every 100 ms while it starts

DEFAULT_PAGE = b"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Starting</title>
<meta http-equiv="refresh" content="2"></head>
<body style="font-family:sans-serif;margin:4em auto;max-width:32em">
<h1>Starting up</h1><p>This site is starting. It will answer in a moment;
this page reloads by itself.</p></body></html>
"""

HEADERS = [
    (b"Content-Type", b"text/html; charset=utf-8"),
    (b"Retry-After", RETRY_AFTER),
    (b"Cache-Control", b"no-store"),
]


def load_page(path: str) -> bytes:
    """`[server] starting_page`, read once when a worker builds its routes (the config
    check made sure it exists); the built-in page when unset or unreadable."""
    if not path:
        return DEFAULT_PAGE
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return DEFAULT_PAGE

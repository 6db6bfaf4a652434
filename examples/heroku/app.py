"""A small WSGI app: what frontdesk starts (under gunicorn) behind the dyno's $PORT."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>frontdesk on Heroku</title>
<link rel="stylesheet" href="/static/style.css"></head>
<body><h1>Hello from {instance}</h1>
<p>This page came from the app process {instance} (pid {pid}), through frontdesk,
which serves <code>/static/</code> itself and balances the rest over the app's
instances.</p></body></html>
"""


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    if environ["PATH_INFO"] == "/healthz":
        body = b"ok"
        ctype = "text/plain"
    else:
        instance = os.environ.get("FRONTDESK_INSTANCE", "?")
        body = PAGE.format(instance=instance, pid=os.getpid()).encode()
        ctype = "text/html; charset=utf-8"
    start_response("200 OK", [("Content-Type", ctype), ("Content-Length", str(len(body)))])
    return [body]

"""A WSGI app for the gunicorn test: the same answers as stdlib_app.py."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable
from typing import Any

NAME = os.environ.get("FRONTDESK_INSTANCE", "?")
VERSION = os.environ.get("APP_VERSION", "v1")


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    if environ["REQUEST_METHOD"] == "POST":
        n = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(n)
        text = f"{NAME} {VERSION} {n} {hashlib.sha256(body).hexdigest()}"
    else:
        text = f"{NAME} {VERSION} pid={os.getpid()} wsgi"
    data = text.encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(data)))])
    return [data]

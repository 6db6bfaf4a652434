"""An ASGI app for the uvicorn test: the same answers as stdlib_app.py."""

from __future__ import annotations

import hashlib
import os
from typing import Any

NAME = os.environ.get("FRONTDESK_INSTANCE", "?")
VERSION = os.environ.get("APP_VERSION", "v1")


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                print(f"{NAME} asgi app started", flush=True)
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    if scope["method"] == "POST":
        text = f"{NAME} {VERSION} {len(body)} {hashlib.sha256(body).hexdigest()}"
    else:
        text = f"{NAME} {VERSION} pid={os.getpid()} asgi"
    data = text.encode()
    headers = [(b"content-type", b"text/plain"), (b"content-length", str(len(data)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": data})

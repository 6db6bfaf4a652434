"""Client side of a switch: ask `frontdesk serve --deploy DIR` to serve a release.

The server (serve.py) loads the release's generated config, reloads with it (new
instances started and checked before traffic moves, the old drained and stopped),
and only then moves ``current``. The answer says whether it worked and carries the
server's log lines from the switch (an instance's traceback, "never became
healthy"), which the push prints.
"""

from __future__ import annotations

import socket
from typing import Any

from frontdesk.master.admin import call

from .layout import DeployDir, DeployError, DeploySettings
from .output import Output

__all__ = ["switch", "server_info", "serving_url"]


def server_info(d: DeployDir) -> dict[str, Any] | None:
    """What the running server wrote about itself (admin address, URL), or None."""
    info = d.read_json(d.server_file, None)
    return info if isinstance(info, dict) else None


def _address(info: dict[str, Any]) -> str | tuple[str, int]:
    admin = info["admin"]
    return admin if isinstance(admin, str) else (str(admin[0]), int(admin[1]))


def switch(d: DeployDir, release_id: str, out: Output, timeout: float) -> bool:
    """Make the server serve `release_id`. True: switched. False: no server is running
    (`current` now points at the release, which it will serve when started). Raises
    DeployError when the server refused or the new instances failed."""
    info = server_info(d)
    if info is not None:
        try:
            code, answer = call(
                _address(info), "POST", "/deploy/switch", {"release": release_id}, timeout
            )
        except (ConnectionRefusedError, FileNotFoundError):
            info = None  # server.json left by a server that was killed
        except OSError as exc:
            raise DeployError(f"the server did not answer the switch: {exc}") from None
    if info is None:
        d.point_current(release_id)
        out.step("No `frontdesk serve --deploy` is running for this directory:")
        out.detail(f"release {release_id} is current and will be served when it starts")
        return False
    for line in answer.get("log", ()):
        out.detail(str(line))
    if code != 200:
        errors = answer.get("errors") or [answer.get("error", f"status {code}")]
        raise DeployError("the server refused the release: " + "; ".join(map(str, errors)))
    if not answer.get("ok"):
        raise DeployError(
            answer.get("reason") or "the new instances did not become healthy (see above)"
        )
    return True


def serving_url(d: DeployDir, settings: DeploySettings) -> str:
    if settings.url:
        return settings.url
    info = server_info(d)
    if info is not None and info.get("url"):
        return str(info["url"])
    from frontdesk.config.types import split_listen

    host, port = split_listen(settings.listen[0])
    return f"http://{url_host(host)}:{port}/"


def url_host(host: str) -> str:
    if host in ("", "0.0.0.0", "::"):
        return socket.getfqdn()
    return f"[{host}]" if ":" in host else host

"""Admin API endpoints for apps and reloads.

    GET  /apps                  {"apps": [instance, ...]} (the rows of GET /status "apps")
    POST /apps/{name}/restart   rolling restart of one app; answers when it is done:
                                200 {"app", "instances": [...]}, 404 (no such app),
                                409 {"error"} (a new instance was not ready in time:
                                it was stopped, the old ones keep serving)
    POST /reload                load the config file again and apply it (as SIGHUP);
                                answers when the apps' rolling replacements are done:
                                200 {"reloaded": true, "generation", "apps"}, or
                                409 {"error", "errors": [...]}

An instance, as /apps and /status show it: {"app": "web", "instance": "web.1",
"pid": 1234 or null, "state": "starting|ready|draining|stopping|backoff|failed|stopped",
"uptime": seconds, "restarts": n, "port": 40123 or null (bind = "unix"), "address":
"127.0.0.1:40123" or "unix:/path" (its id in the pool), "pool": "web", "exit_status":
null or the status it last exited with}.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from frontdesk.master.admin import AdminRequest, AdminServer
from frontdesk.master.app_set import AppError
from frontdesk.master.apps import ReplaceFailed

if TYPE_CHECKING:
    from frontdesk.master.workers import Master


def add_app_routes(admin: AdminServer, master: Master) -> None:
    async def apps(req: AdminRequest) -> tuple[int, Any]:
        return 200, {"apps": master.apps.rows()}

    async def restart(req: AdminRequest) -> tuple[int, Any]:
        name = unquote(req.params["name"])
        try:
            await master.apps.restart(name)
        except AppError as exc:
            return 404, {"error": str(exc)}
        except ReplaceFailed as exc:
            return 409, {"error": str(exc)}
        rows = [r for r in master.apps.rows() if r["app"] == name]
        return 200, {"app": name, "instances": rows}

    async def reload(req: AdminRequest) -> tuple[int, Any]:
        if await master.reload():
            return 200, {
                "reloaded": True,
                "generation": master.generation,
                "apps": master.apps.rows(),
            }
        errors = master.reload_errors or ["reload refused (see the server log)"]
        return 409, {"error": "reload failed", "errors": errors}

    admin.route("GET", "/apps", apps)
    admin.route("POST", "/apps/{name}/restart", restart)
    admin.route("POST", "/reload", reload)

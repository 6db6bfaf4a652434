"""Admin API endpoints that change pools: drain, disable and enable a server.

    POST /pools/{pool}/drain    {"server": "127.0.0.1:9001"}
    POST /pools/{pool}/disable  {"server": ...}
    POST /pools/{pool}/enable   {"server": ...}

The master holds the state (so a worker started later has it too, and a reload keeps
it for a server still listed) and sends it to every worker. Drain: no new requests,
those in flight finish. Disable: out of rotation, even when every other server is
out (panic mode skips it too). Enable: back in rotation (ramping up under
`slow_start`). A server is named as `frontdesk status` lists it; a name to resolve,
as the config lists it, stands for every server it resolved to.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from frontdesk.balance import AdminState
from frontdesk.log import error_log
from frontdesk.master.admin import AdminRequest, AdminServer
from frontdesk.master.pools import PoolError

if TYPE_CHECKING:
    from frontdesk.master.workers import Master

ACTIONS = {
    "drain": AdminState.DRAIN,
    "disable": AdminState.DISABLED,
    "enable": AdminState.ACTIVE,
}


def add_pool_routes(admin: AdminServer, master: Master) -> None:
    async def change(req: AdminRequest) -> tuple[int, Any]:
        action = req.params["action"]
        state = ACTIONS.get(action)
        if state is None:
            return 404, {"error": f"no such action {action!r}: use {', '.join(ACTIONS)}"}
        try:
            server = json.loads(req.body or b"{}").get("server")
        except (ValueError, AttributeError):
            server = None
        if not isinstance(server, str):
            return 400, {"error": 'the body must be JSON: {"server": "host:port"}'}
        name = unquote(req.params["pool"])  # the CLI quotes it
        try:
            pool = master.pools.get(name)
            members = pool.set_admin(server, state, time.monotonic())
        except PoolError as exc:
            return exc.status, {"error": str(exc)}
        master.broadcast(pool)
        error_log.warning("pool %r: server %s set to %s (admin API)", name, server, state.value)
        return 200, {"pool": name, "server": server, "members": members, "state": state.value}

    admin.route("POST", "/pools/{pool}/{action}", change)

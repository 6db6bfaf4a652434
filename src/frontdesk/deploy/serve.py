"""`frontdesk serve --deploy DIR`: the master, serving whichever release is live.

The config is the live release's generated one (``releases/<id>/.frontdesk-deploy.toml``,
see generate.py), or, before the first push, a placeholder that answers 503. A
switch (a push, `frontdesk rollback`, `frontdesk config:set`) arrives on the admin
API as ``POST /deploy/switch {"release": ID}``; it is an ordinary reload with that
release's config, so the new app instances start and pass their checks before
traffic moves, and a failure leaves the old release serving. Only a switch that
succeeded moves ``current``. SIGHUP (`frontdesk reload`) reloads the live release.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from typing import Any

from frontdesk.config import apply_env, load_file
from frontdesk.config.model import Config
from frontdesk.errors import ConfigError
from frontdesk.log import error_log
from frontdesk.master.admin import AdminRequest
from frontdesk.master.workers import Master

from .layout import DeployDir, DeployError
from .switch import url_host

__all__ = ["DeployMaster", "live_config"]

_LOG_LINES = 400


def live_config(d: DeployDir) -> Config:
    """The config of the live release, or the placeholder before the first push."""
    rid = d.live_id()
    if rid is None:
        return placeholder_config(d)
    return release_config(d, rid)


def release_config(d: DeployDir, rid: str) -> Config:
    path = d.generated_config(rid)
    if not path.is_file():
        raise DeployError(f"release {rid} has no generated config ({path})")
    return apply_env(load_file(path), os.environ)


def placeholder_config(d: DeployDir) -> Config:
    settings = d.settings()
    body = f"Nothing is deployed here yet: git push to {d.root} to deploy.\n"
    data: dict[str, Any] = {
        "server": {"listen": list(settings.listen)},
        "admin": {"listen": settings.admin},
        "route": [
            {
                "name": "nothing-deployed",
                "respond": {
                    "status": 503,
                    "body": body,
                    "headers": {"Content-Type": "text/plain; charset=utf-8", "Retry-After": "10"},
                },
            }
        ],
    }
    return apply_env(Config.model_validate(data), os.environ)


class _Collect(logging.Handler):
    """The server's log lines while a switch runs, for the push output."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if len(self.lines) < _LOG_LINES:
            self.lines.append(f"{record.levelname.lower()}: {record.getMessage()}")


class DeployMaster(Master):
    """A Master whose reloads are serialised and can be given the config to load."""

    def __init__(self, d: DeployDir, workers: int | None = None) -> None:
        self.deploy = d
        self.workers_override = workers  # `serve --deploy DIR --workers N`, kept on reloads
        self._pending: Config | None = None
        self._switching = asyncio.Lock()
        super().__init__(self._load(d, None), self._next_config)

    def _load(self, d: DeployDir, rid: str | None) -> Config:
        config = live_config(d) if rid is None else release_config(d, rid)
        if self.workers_override is None:
            return config
        server = config.server.model_copy(update={"workers": self.workers_override})
        return config.model_copy(update={"server": server})

    def _next_config(self) -> Config:
        return self._pending if self._pending is not None else self._load(self.deploy, None)

    async def reload(self) -> bool:
        async with self._switching:
            return await super().reload()

    async def switch(self, rid: str) -> tuple[int, dict[str, Any]]:
        async with self._switching:
            try:
                config = await asyncio.to_thread(self._load, self.deploy, rid)
            except ConfigError as exc:
                return 400, {"error": "invalid config", "errors": [str(i) for i in exc.issues]}
            except DeployError as exc:
                return 404, {"error": str(exc)}
            collect = _Collect()
            logger = logging.getLogger("frontdesk")
            logger.addHandler(collect)
            self._pending = config
            try:
                ok = await super().reload()
            finally:
                self._pending = None
                logger.removeHandler(collect)
            if ok:
                self.deploy.point_current(rid)
                return 200, {"ok": True, "release": rid, "log": collect.lines}
            reason = "; ".join(self.reload_errors) or "the switch failed (see the server log)"
            await self._restore()
            return 200, {"ok": False, "release": rid, "reason": reason, "log": collect.lines}

    async def _restore(self) -> None:
        """After a failed switch, reload the live release's config again: the workers
        already run the new routes, and an app with several instances may have some
        replaced before one failed (docs/apps.md); the live release is served whole."""
        try:
            self._pending = await asyncio.to_thread(self._load, self.deploy, None)
        except (ConfigError, DeployError) as exc:
            error_log.error("deploy: cannot restore the live release's config: %s", exc)
            return
        try:
            if not await super().reload():
                error_log.error("deploy: restoring the live release failed: %s", self.reload_errors)
        finally:
            self._pending = None

    async def _start_admin(self) -> None:
        await super()._start_admin()
        if self.admin is None:
            return
        self.admin.route("POST", "/deploy/switch", self._switch_route)
        self._write_server_file()

    async def _switch_route(self, req: AdminRequest) -> tuple[int, Any]:
        try:
            body = json.loads(req.body or b"{}")
            rid = body["release"]
        except (ValueError, KeyError, TypeError):
            return 400, {"error": 'expected {"release": ID}'}
        if not isinstance(rid, str) or not rid or "/" in rid or rid.startswith("."):
            return 400, {"error": "invalid release id"}
        return await self.switch(rid)

    def _write_server_file(self) -> None:
        address = self.config.admin_address()
        host, port = self.sockets_addresses()[0] if self.sockets else ("", 0)
        info = {
            "pid": os.getpid(),
            "admin": address,
            "url": f"http://{url_host(host)}:{port}/",
        }
        self.deploy.write_json(self.deploy.server_file, info)

    def remove_server_file(self) -> None:
        try:
            info = self.deploy.read_json(self.deploy.server_file, None)
            if isinstance(info, dict) and info.get("pid") == os.getpid():
                os.remove(self.deploy.server_file)
        except (OSError, DeployError):
            pass

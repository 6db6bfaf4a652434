"""Every [app.NAME] of the running config: start, stop, and what a reload changes.

The master owns one `Apps`. A reload hands it the new config's apps; `plan_reload`
(master/supervise.py) says what each needs, and this carries it out: a new app is
started, a removed one drained and stopped, a changed command/env/cwd/bind/pool
rolled (instance by instance), a changed `instances` scaled, other changes adopted,
an unchanged app not touched.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from frontdesk.config.apps import App
from frontdesk.log import AccessLog, error_log
from frontdesk.master.apps import AppRunner, ReplaceFailed
from frontdesk.master.orphans import Keeper
from frontdesk.master.supervise import Change, plan_reload

if TYPE_CHECKING:
    from frontdesk.master.workers import Master


class AppError(LookupError):
    """An admin command named an app that does not exist."""


class Apps:
    def __init__(self, master: Master) -> None:
        self.master = master
        self.runners: dict[str, AppRunner] = {}
        self.keeper = Keeper()
        self._output: AccessLog | None = None

    @property
    def output(self) -> AccessLog:
        # Apps' output goes to stdout (as Heroku and honcho expect), through the
        # access log's writer thread: never a blocking write on the master's loop.
        if self._output is None:
            self._output = AccessLog("-", "combined")
        return self._output

    async def start(self, apps: Mapping[str, App]) -> None:
        """Start every app in the background; serving does not wait for them."""
        for name, app in apps.items():
            await self._add(name, app)

    async def _add(self, name: str, app: App) -> AppRunner:
        await self.keeper.start()
        runner = self.runners[name] = AppRunner(name, app, self.master, self.keeper, self.output)
        runner.start()
        return runner

    def get(self, name: str) -> AppRunner:
        runner = self.runners.get(name)
        if runner is None:
            known = ", ".join(self.runners) or "none"
            raise AppError(f"no app {name!r} in the running config (its apps: {known})")
        return runner

    async def restart(self, name: str) -> None:
        """Rolling restart of one app; ReplaceFailed says why it stopped."""
        await self.get(name).restart()

    async def apply(self, apps: Mapping[str, App]) -> list[str]:
        """A reload's apps: carry out the plan; returns the errors (empty: all done)."""
        plan = plan_reload({n: r.config for n, r in self.runners.items()}, apps)
        errors: list[str] = []

        async def one(name: str, change: Change) -> None:
            try:
                if change is Change.START:
                    runner = await self._add(name, apps[name])
                    if not await runner.wait_ready(apps[name].start_timeout + 1.0):
                        errors.append(f"app {name}: new app not ready (see the log)")
                elif change is Change.STOP:
                    await self.runners.pop(name).stop()
                elif change is Change.REPLACE:
                    await self.runners[name].restart(apps[name])
                elif change is Change.SCALE:
                    await self.runners[name].scale(apps[name])
                elif change is Change.ADOPT:
                    self.runners[name].adopt(apps[name])
            except ReplaceFailed as exc:
                errors.append(str(exc))

        for p in plan.apps:
            if p.change is not Change.KEEP:
                error_log.info(
                    "reload: app %s: %s (instances %d -> %d)", p.name, p.change.value, *p.instances
                )
        await asyncio.gather(*(one(p.name, p.change) for p in plan.apps))
        for e in errors:
            error_log.error("reload: %s", e)
        return errors

    def rows(self) -> list[dict[str, Any]]:
        return [row for runner in self.runners.values() for row in runner.rows()]

    async def stop(self) -> None:
        """Shutdown: drain and stop every instance (SIGTERM, SIGKILL after stop_timeout)."""
        await asyncio.gather(*(r.stop() for r in self.runners.values()))
        self.runners.clear()
        await self.keeper.close()
        if self._output is not None:
            self._output.close()
            self._output = None

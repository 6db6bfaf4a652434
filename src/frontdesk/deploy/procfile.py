"""The Procfile: `name: command` lines naming an app's process types (Heroku's format).

Pure: text in, a mapping out, or a ``ProcfileError`` naming the line. Only two types
matter to a deploy: ``web`` (the instances that serve, unless the app's
frontdesk.toml has an ``[app]`` table of its own) and ``release`` (run once per
release before its instances start: migrations).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from frontdesk.errors import FrontdeskError

__all__ = ["ProcfileError", "Procfile", "parse_procfile"]

# Heroku: "a process type name ... alphanumeric characters, hyphens and underscores".
_LINE = re.compile(r"^([A-Za-z0-9_-]+)\s*:\s*(.*?)\s*$")


class ProcfileError(FrontdeskError):
    """A line of the Procfile that is not `name: command`."""

    def __init__(self, line: int, message: str) -> None:
        self.line = line
        super().__init__(f"Procfile:{line}: {message}")


@dataclass(frozen=True)
class Procfile:
    """The process types of a Procfile, in file order."""

    types: dict[str, str]

    @property
    def web(self) -> str | None:
        return self.types.get("web")

    @property
    def release(self) -> str | None:
        return self.types.get("release")

    def others(self) -> list[str]:
        """Process types a deploy does not run (worker, clock, ...)."""
        return [name for name in self.types if name not in ("web", "release")]


def parse_procfile(text: str) -> Procfile:
    """Parse Procfile `text`; blank lines and `#` comments are skipped."""
    types: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        m = _LINE.match(line)
        if m is None:
            raise ProcfileError(number, f"expected 'name: command', got {line!r}")
        name, command = m.groups()
        if not command:
            raise ProcfileError(number, f"process type {name!r} has no command")
        if name in types:
            raise ProcfileError(number, f"process type {name!r} is defined twice")
        types[name] = command
    return Procfile(types)

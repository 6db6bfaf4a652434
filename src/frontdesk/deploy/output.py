"""What the person pushing reads: steps and indented detail, flushed line by line.

git relays a hook's output to `git push` as it comes ("remote: ..."), so each line is
written and flushed at once. A push whose client went away (Ctrl-C, a dropped SSH
connection) must still finish or fail cleanly, never stop half-way: a line that
cannot be written is dropped, and the deploy goes on.
"""

from __future__ import annotations

import sys
from typing import TextIO

__all__ = ["Output"]


class Output:
    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream if stream is not None else sys.stdout
        self.lines: list[str] = []  # every line, for tests and the release's record

    def step(self, text: str) -> None:
        """A step of the deploy: `-----> text` (as Heroku's builds print them)."""
        self._write(f"-----> {text}")

    def detail(self, text: str) -> None:
        """Output of a step (pip, the release command, the server): indented."""
        self._write(f"       {text}")

    def error(self, text: str) -> None:
        self._write(f" !     {text}")

    def _write(self, line: str) -> None:
        self.lines.append(line)
        try:
            self.stream.write(line + "\n")
            self.stream.flush()
        except (OSError, ValueError):
            pass  # the client is gone; the deploy itself carries on

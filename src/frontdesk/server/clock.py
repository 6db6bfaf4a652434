"""A per-worker clock ticked by the loop: the hot path reads attributes, never the OS.

`now` is the loop's monotonic time and drives every deadline; `date_line` is the
whole Date header line, re-rendered only when the second changes.
"""

from __future__ import annotations

import time

from frontdesk.http.dates import format_http_date, format_log_time


class Clock:
    __slots__ = ("now", "wall", "date_line", "log_time", "_second")

    def __init__(self) -> None:
        self.now = 0.0
        self.wall = 0.0
        self.date_line = b""
        self.log_time = ""
        self._second = -1
        self.tick(time.monotonic(), time.time())

    def tick(self, monotonic: float, wall: float) -> None:
        self.now = monotonic
        self.wall = wall
        second = int(wall)
        if second != self._second:
            self._second = second
            # RFC 9110 §6.6.1: an origin server with a clock MUST send Date.
            self.date_line = b"Date: " + format_http_date(second).encode("ascii") + b"\r\n"
            self.log_time = format_log_time(second)

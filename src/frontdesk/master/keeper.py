"""The keeper process: kills the app instances' process groups when the master dies.

`python -m frontdesk.master.keeper MASTER_PID`, stdin a pipe from the master carrying
"+PGID" (hold) and "-PGID" (release) lines. End of file means the master is gone (or
shut down, having stopped everything): every group still held gets SIGKILL, and the
keeper exits. See master/orphans.py for why it exists.
"""

from __future__ import annotations

import os
import signal
import sys


def main() -> int:
    # The master decides when we go: a Ctrl-C or SIGTERM meant for it must not take
    # the keeper away before the master has stopped the apps.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    held: set[int] = set()
    for raw in sys.stdin.buffer:
        line = raw.strip()
        if line[:1] == b"+" and line[1:].isdigit():
            held.add(int(line[1:]))
        elif line[:1] == b"-" and line[1:].isdigit():
            held.discard(int(line[1:]))
    for pgid in held:
        try:
            os.killpg(pgid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())

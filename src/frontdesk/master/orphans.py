"""No orphans: what makes every worker and app process die with the master.

Two mechanisms, because one is not enough:

* the parent-death signal (prctl PR_SET_PDEATHSIG, Linux): each worker and the
  first process of each app instance is sent SIGKILL by the kernel when the master
  dies, however it dies (even by SIGKILL, where no handler of ours runs);
* an app instance runs in a process group of its own, and may have children of
  its own (gunicorn's workers, uvicorn --workers) that the parent-death signal of
  their parent does not reach. A keeper process (`python -m
  frontdesk.master.keeper`), started by the master, holds the list of those groups
  and reads a pipe from the master: when the pipe closes (the master is gone) it
  kills every group it holds, then exits.

The child side of the first runs between fork and exec (`preexec_fn`), so it may
call nothing but prctl and getppid.
"""

from __future__ import annotations

import asyncio
import ctypes
import os
import signal
import sys

from frontdesk.log import error_log

_PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None


def die_with_parent(sig: int = signal.SIGKILL) -> None:
    """In a child between fork and exec: have the kernel send `sig` when the parent
    dies. If the parent died already (before the prctl took effect), exit now."""
    parent = os.getppid()
    if _libc is not None:
        _libc.prctl(_PR_SET_PDEATHSIG, sig, 0, 0, 0)
    if os.getppid() != parent or parent == 1:
        os._exit(1)


def app_preexec() -> None:
    """An app instance: its own process group (so a stop reaches its children) and the
    parent-death signal."""
    os.setpgid(0, 0)
    die_with_parent()


class Keeper:
    """The master's end of the keeper process: groups to kill when the master dies."""

    def __init__(self) -> None:
        self._proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        if self._proc is not None:
            return
        self._proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "frontdesk.master.keeper",
            str(os.getpid()),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.DEVNULL,
            start_new_session=True,  # a Ctrl-C to the terminal's group is the master's
        )

    def _send(self, line: str) -> None:
        proc = self._proc
        if proc is None or proc.stdin is None or proc.stdin.is_closing():
            return
        proc.stdin.write(line.encode() + b"\n")

    def hold(self, pgid: int) -> None:
        self._send(f"+{pgid}")

    def release(self, pgid: int) -> None:
        self._send(f"-{pgid}")

    async def close(self) -> None:
        """A clean shutdown: every group has been stopped; the keeper exits on EOF."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            await asyncio.wait_for(proc.wait(), 2.0)
        except TimeoutError:
            error_log.warning("keeper process %d did not exit; killing it", proc.pid)
            proc.kill()
            await proc.wait()


def kill_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass  # gone already (its id cannot have been reused while we held the group)

"""One deploy at a time per deploy directory: an flock on ``deploy.lock``.

Two pushes at once never interleave: the second waits (saying for whom) up to the
settings' `lock_timeout`, then is refused. The lock file says who holds it, so the
one waiting can tell the person pushing what it waits for. The kernel drops an flock
when its holder dies, so a killed deploy never leaves the directory locked.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable
from types import TracebackType

from .layout import DeployDir, DeployError

__all__ = ["DeployLock"]


class DeployLock:
    def __init__(self, d: DeployDir, what: str, timeout: float) -> None:
        self.path = d.lock_file
        self.what = what
        self.timeout = timeout
        self.fd = -1

    def acquire(self, waiting: Callable[[str], None]) -> None:
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        if not self._try():
            holder = self._holder()
            waiting(f"waiting for another deploy to finish ({holder})")
            deadline = time.monotonic() + self.timeout
            while not self._try():
                if time.monotonic() >= deadline:
                    os.close(self.fd)
                    self.fd = -1
                    raise DeployError(
                        f"another deploy is still running after {self.timeout:.0f}s "
                        f"({holder}); try again later"
                    )
                time.sleep(0.1)
        os.ftruncate(self.fd, 0)
        os.pwrite(self.fd, f"{self.what}, pid {os.getpid()}, since {time.time():.0f}\n".encode(), 0)

    def _try(self) -> bool:
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            return False

    def _holder(self) -> str:
        try:
            text = os.pread(self.fd, 512, 0).decode(errors="replace").strip()
        except OSError:
            return "unknown"
        what, _, since = text.rpartition(", since ")
        if since.isdigit():
            return f"{what}, for {time.time() - int(since):.0f}s"
        return text or "unknown"

    def release(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)  # closing the last descriptor drops the flock
            self.fd = -1

    def __enter__(self) -> DeployLock:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()

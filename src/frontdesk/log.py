"""Logging: the error log (stdlib logging, stderr) and the batched access log.

The access log never costs a syscall per request: lines are appended to a list and
handed, a batch at a time, to a writer thread on the worker's tick (or when 64 KiB
are pending). A destination that blocks (a full pipe) blocks that thread, not the
event loop; past a bounded backlog, lines are dropped and counted rather than
buffered without limit.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import re
import sys
import threading

error_log = logging.getLogger("frontdesk.error")

_FLUSH_BYTES = 64 * 1024
_MAX_BATCHES = 256  # ~16 MiB of lines at most waiting for a slow destination

# Bytes that must not reach a log line raw: controls (log injection), quote, backslash.
_UNSAFE = re.compile(rb'[\x00-\x1f"\\\x7f-\xff]')


def _escape(value: bytes) -> str:
    if _UNSAFE.search(value) is None:
        return value.decode("ascii")
    return _UNSAFE.sub(lambda m: f"\\x{m.group()[0]:02X}".encode("ascii"), value).decode("ascii")


def setup_error_log(level: int = logging.INFO) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s [%(process)d] %(levelname)s %(message)s"))
    root = logging.getLogger("frontdesk")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False


class AccessLog:
    """Formats one line per finished request; writes batches from a thread."""

    def __init__(self, destination: str, fmt: str) -> None:
        self.enabled = destination != "off"
        self._json = fmt == "json"
        self.json = self.enabled and self._json  # the caller then gives extra() first
        self._extra: dict[str, object] | None = None
        self._lines: list[str] = []
        self._pending = 0
        self.dropped = 0
        self._fd = -1
        self._own_fd = False
        self._queue: queue.Queue[bytes | None] = queue.Queue(_MAX_BATCHES)
        self._thread: threading.Thread | None = None
        if not self.enabled:
            return
        if destination == "-":
            self._fd = sys.stdout.fileno()
        else:
            self._fd = os.open(destination, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            self._own_fd = True
        self._thread = threading.Thread(target=self._writer, name="access-log", daemon=True)
        self._thread.start()

    def extra(
        self,
        request_id: bytes,
        route: str,
        upstream: str,
        cache: str,
        upstream_ttfb: float,
        duration: float,
    ) -> None:
        """The JSON format's fields beyond the combined ones, for the next record():
        the request id (as sent to the backend), the route's label, the backend that
        answered, the Cache-Status member, and timings in milliseconds: time to the
        backend's first byte (null when nothing was forwarded) and the whole request."""
        self._extra = {
            "request_id": request_id.decode("latin-1"),
            "route": route,
            "upstream": upstream or None,
            "cache": cache or None,
            "upstream_ttfb_ms": round(upstream_ttfb * 1000, 3) if upstream_ttfb >= 0 else None,
            "duration_ms": round(duration * 1000, 3),
        }

    def record(
        self,
        peer: str,
        log_time: str,
        method: bytes,
        target: bytes,
        version: str,
        status: int,
        size: int,
        referer: bytes | None,
        user_agent: bytes | None,
    ) -> None:
        if self._json:
            fields: dict[str, object] = {
                "time": log_time,
                "remote_addr": peer,
                "method": method.decode("ascii", "replace"),
                "uri": target.decode("latin-1"),
                "protocol": f"HTTP/{version}",
                "status": status,
                "bytes": size,
                "referer": referer.decode("latin-1") if referer else "",
                "user_agent": user_agent.decode("latin-1") if user_agent else "",
            }
            if self._extra is not None:
                fields.update(self._extra)
                self._extra = None
            line = json.dumps(fields)
        else:
            # NCSA combined: host ident authuser [time] "request" status bytes "ref" "ua"
            line = (
                f'{peer} - - [{log_time}] "{_escape(method)} {_escape(target)} HTTP/{version}" '
                f'{status} {size} "{_escape(referer) if referer else "-"}" '
                f'"{_escape(user_agent) if user_agent else "-"}"'
            )
        self._lines.append(line)
        self._pending += len(line) + 1
        if self._pending >= _FLUSH_BYTES:
            self.flush()

    def line(self, text: str) -> None:
        """A line written as it is (an app's output, master/apps.py), in the same
        batches, by the same thread, with the same bound as access log lines."""
        self._lines.append(text)
        self._pending += len(text) + 1
        if self._pending >= _FLUSH_BYTES:
            self.flush()

    def flush(self) -> None:
        if not self._lines:
            return
        batch = ("\n".join(self._lines) + "\n").encode("utf-8", "replace")
        self._lines.clear()
        self._pending = 0
        try:
            self._queue.put_nowait(batch)
        except queue.Full:
            self.dropped += batch.count(b"\n")

    def close(self, timeout: float = 2.0) -> None:
        """Flush what is pending and stop the writer thread (bounded wait)."""
        self.flush()
        if self._thread is not None:
            try:
                self._queue.put(None, timeout=timeout)
            except queue.Full:
                pass
            self._thread.join(timeout)
            self._thread = None
        if self._own_fd:
            os.close(self._fd)
            self._own_fd = False

    def _writer(self) -> None:
        while True:
            batch = self._queue.get()
            if batch is None:
                return
            view = memoryview(batch)
            try:
                while view:
                    view = view[os.write(self._fd, view) :]
            except OSError as exc:
                error_log.warning("access log write failed: %s", exc)

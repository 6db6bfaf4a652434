"""Running wrk and reading its report."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from scenarios import Request

UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


@dataclass(frozen=True)
class WrkResult:
    requests: int
    requests_per_s: float
    p99_ms: float
    socket_errors: int
    non_2xx_3xx: int

    @property
    def errors(self) -> int:
        return self.socket_errors + self.non_2xx_3xx


def lua_script(request: Request) -> str | None:
    """A wrk script setting the request's method and extra header fields (the path goes
    in the URL)."""
    if not request.headers and request.method == "GET":
        return None
    lines = [f"wrk.method = {_lua_string(request.method)}\n"]
    lines += (
        f"wrk.headers[{_lua_string(name)}] = {_lua_string(value)}\n"
        for name, value in request.headers
    )
    return "".join(lines)


def _lua_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def command(
    url: str, connections: int, duration: float, script: Path | None, cpu: int
) -> list[str]:
    argv = ["taskset", "-c", str(cpu), "wrk", "-t1", f"-c{connections}", f"-d{duration:g}s"]
    argv += ["--latency"] + (["-s", str(script)] if script else []) + [url]
    return argv


def run(argv: list[str], duration: float) -> str:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=duration + 60, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
    return done.stdout


def parse(output: str) -> WrkResult:
    """Read wrk's `--latency` report."""
    return WrkResult(
        requests=int(_search(r"^\s*(\d+) requests in ", output)),
        requests_per_s=float(_search(r"^Requests/sec:\s*([\d.]+)", output)),
        p99_ms=_duration_s(_search(r"^\s*99(?:\.000)?%\s+(\S+)", output)) * 1000,
        socket_errors=_socket_errors(output),
        non_2xx_3xx=int(_search(r"Non-2xx or 3xx responses: (\d+)", output, "0")),
    )


def _search(pattern: str, text: str, default: str | None = None) -> str:
    match = re.search(pattern, text, re.MULTILINE)
    if match:
        return match.group(1)
    if default is None:
        raise ValueError(f"wrk output has no {pattern!r}:\n{text}")
    return default


def _socket_errors(output: str) -> int:
    match = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    return sum(int(n) for n in match.groups()) if match else 0


def _duration_s(text: str) -> float:
    """`698.21us`, `1.20ms`, `2.00s`, `1.00m` → seconds."""
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text)
    if not match:
        raise ValueError(f"not a wrk duration: {text!r}")
    return float(match.group(1)) * UNITS[match.group(2)]

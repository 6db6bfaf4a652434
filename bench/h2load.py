"""Running h2load (nghttp2's HTTP/2 load generator) and reading its report."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass

from scenarios import Request
from wrk import UNITS


@dataclass(frozen=True)
class H2loadResult:
    requests: int
    requests_per_s: float
    mean_ms: float  # h2load reports min/max/mean/sd of request time, no percentiles
    failed: int
    non_2xx_3xx: int

    @property
    def errors(self) -> int:
        return self.failed + self.non_2xx_3xx


def command(
    url: str, connections: int, streams: int, duration: float, request: Request, cpu: int
) -> list[str]:
    """One client thread, `connections` connections with `streams` requests in flight
    on each (h2load -c -m), for `duration` seconds."""
    argv = ["taskset", "-c", str(cpu), "h2load", "-t1", f"-c{connections}", f"-m{streams}"]
    argv += [f"-D{duration:g}"]
    for name, value in request.headers:
        argv += ["-H", f"{name}: {value}"]
    return argv + [url]


def run(argv: list[str], duration: float) -> str:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=duration + 60, check=False)
    if done.returncode != 0 or "finished in" not in done.stdout:
        raise RuntimeError(f"h2load failed ({done.returncode}): {done.stderr or done.stdout}")
    return done.stdout


def parse(output: str) -> H2loadResult:
    """Read h2load's summary ("finished in ..., N req/s", "requests: ...", "status codes:")."""
    requests = re.search(
        r"^requests: \d+ total, \d+ started, (\d+) done, \d+ succeeded, (\d+) failed, "
        r"(\d+) errored",
        output,
        re.MULTILINE,
    )
    rate = re.search(r"^finished in [\d.]+\w+, ([\d.]+) req/s", output, re.MULTILINE)
    codes = re.search(r"^status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", output, re.M)
    mean = re.search(r"^time for request:\s+\S+\s+\S+\s+([\d.]+)(us|ms|s)", output, re.M)
    if not (requests and rate and codes):
        raise ValueError(f"unexpected h2load output:\n{output}")
    return H2loadResult(
        requests=int(requests.group(1)),
        requests_per_s=float(rate.group(1)),
        mean_ms=float(mean.group(1)) * UNITS[mean.group(2)] * 1000 if mean else 0.0,
        failed=int(requests.group(2)) + int(requests.group(3)),
        non_2xx_3xx=int(codes.group(3)) + int(codes.group(4)),
    )

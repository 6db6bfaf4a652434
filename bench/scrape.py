"""What a Prometheus scrape every second costs: req/s with and without it, same run.

    .venv/bin/python bench/scrape.py [--rounds 5] [--duration 10] [--workers 1]

frontdesk (master and workers pinned to core 0) answers `GET /` with a fixed 1 KiB
body (the fast lane: the cheapest request, so the scrape's share is the largest);
wrk runs on core 1. Each round measures the same server twice, in alternating order:
once plain, once while a scraper (on core 1 too) reads /metrics from the admin listener
every second, as Prometheus would. A scrape makes the master ask every worker for its
counters over the control channel and render them with prometheus_client; the
workers' hot path never does anything for metrics but add to integers. Reported: the
median req/s of each, and the cost (1 - scraped / plain). Every scrape is checked to
be a 200 that carries frontdesk_requests_total.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import procs
import wrk

SERVER_CPU, CLIENT_CPU = 0, 1


def config(port: int, admin_port: int, workers: int) -> str:
    body = "x" * 1024
    return f"""
[server]
listen = ["127.0.0.1:{port}"]
workers = {workers}
access_log = "off"

[admin]
listen = "127.0.0.1:{admin_port}"

[[route]]
name = "fixed"
respond = {{ status = 200, body = "{body}", headers = {{ "Content-Type" = "text/plain" }} }}
"""


class Scraper(threading.Thread):
    """GET /metrics once a second until stopped; counts scrapes and their time."""

    def __init__(self, admin_port: int) -> None:
        super().__init__(daemon=True)
        self.url = f"http://127.0.0.1:{admin_port}/metrics"
        self.stop = threading.Event()
        self.times: list[float] = []
        self.failures = 0

    def run(self) -> None:
        while not self.stop.is_set():
            began = time.monotonic()
            try:
                with urllib.request.urlopen(self.url, timeout=5) as resp:
                    ok = resp.status == 200 and b"frontdesk_requests_total" in resp.read()
            except OSError:
                ok = False
            self.times.append(time.monotonic() - began)
            self.failures += not ok
            self.stop.wait(max(0.0, 1.0 - (time.monotonic() - began)))


def measure(port: int, admin_port: int, duration: int, scrape: bool) -> tuple[float, Scraper]:
    scraper = Scraper(admin_port)
    if scrape:
        scraper.start()
    argv = wrk.command(f"http://127.0.0.1:{port}/", 50, duration, None, CLIENT_CPU)
    result = wrk.parse(wrk.run(argv, duration))
    scraper.stop.set()
    if scrape:
        scraper.join(10)
    if result.errors or result.non_2xx_3xx:
        raise RuntimeError(f"wrk saw errors: {result}")
    return result.requests_per_s, scraper


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--duration", type=int, default=10, help="seconds per measurement")
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--out", type=Path, help="JSON results (default bench/results/)")
    opts = p.parse_args(argv)
    procs.ensure_commands({"wrk": "wrk", "taskset": "util-linux"})
    procs.stop_servers_on_signals()
    work = Path(tempfile.mkdtemp(prefix="fd-scrape-"))
    port, admin_port = procs.free_port(), procs.free_port()
    conf = work / "frontdesk.toml"
    conf.write_text(config(port, admin_port, opts.workers))
    log = work / "frontdesk.log"
    cmd = [sys.executable, "-m", "frontdesk", "serve", "-c", str(conf)]
    server = procs.launch(procs.pinned(SERVER_CPU, cmd), log)
    rows: list[dict[str, float | int | bool]] = []
    try:
        procs.wait_http(server, port, log)
        procs.wait_http(server, admin_port, log)
        measure(port, admin_port, 2, scrape=False)  # warm-up
        for r in range(opts.rounds):
            for scrape in (False, True) if r % 2 == 0 else (True, False):
                rps, scraper = measure(port, admin_port, opts.duration, scrape)
                row: dict[str, float | int | bool] = {"round": r, "scrape": scrape, "rps": rps}
                if scrape:
                    row |= {
                        "scrapes": len(scraper.times),
                        "failed": scraper.failures,
                        "scrape_ms_max": round(1000 * max(scraper.times), 1),
                    }
                    if scraper.failures or len(scraper.times) < opts.duration - 1:
                        raise RuntimeError(f"scrapes failed or too few: {row}")
                rows.append(row)
                print(json.dumps(row), flush=True)
    finally:
        procs.stop(server)
    plain = statistics.median(float(x["rps"]) for x in rows if not x["scrape"])
    scraped = statistics.median(float(x["rps"]) for x in rows if x["scrape"])
    cost = 1 - scraped / plain
    summary = {
        "plain_rps": round(plain),
        "scraped_rps": round(scraped),
        "cost_percent": round(100 * cost, 2),
        "rounds": opts.rounds,
        "duration": opts.duration,
        "workers": opts.workers,
    }
    print(json.dumps(summary))
    out = opts.out or Path(__file__).with_name("results") / time.strftime(
        "scrape-%Y%m%dT%H%M%S.json"
    )
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"summary": summary, "runs": rows}, indent=1) + "\n")
    print(f"results: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

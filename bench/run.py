"""frontdesk vs nginx, side by side on this machine.

    .venv/bin/python bench/run.py [--scenario NAME ...] [--rounds 5] [--duration 10]
                                  [--connections N] [--out FILE] [--frontdesk-cmd CMD]

Both servers are pinned to core 0, wrk to core 1. Rounds are interleaved (nginx then
frontdesk, the order alternating each round) and the report gives medians. See README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import h2load
import procs
import servers
import wrk
from scenarios import BY_NAME, SCENARIOS, Request, Scenario

BENCH = Path(__file__).resolve().parent
SERVER_CPU = 0
WRK_CPU = 1
SHM = "/dev/shm"
"""tmpfs: the {shm} directory of each server (nginx's proxy_cache_path)."""
ALL_SERVERS = ("nginx", "varnish", "frontdesk")


@dataclass(frozen=True)
class Options:
    scenarios: list[Scenario]
    rounds: int
    duration: float
    warmup: float
    connections: int | None
    out: Path
    frontdesk_cmd: str
    baseline_cmd: str | None
    """Another frontdesk (`--baseline-cmd`), measured as "frontdesk-base" in the same
    rounds wherever frontdesk is: before and after a change, from one run."""
    keep_work: bool
    servers: tuple[str, ...]
    """Only these of each scenario's servers (default: all it names)."""
    work: Path
    """Scratch directory of this run (configs, logs, scripts)."""


@dataclass(frozen=True)
class Round:
    """One measured wrk run against one server."""

    server: str
    round: int
    requests: int
    requests_per_s: float
    p99_ms: float
    errors: int
    cpu_us_per_request: float
    upstream_connections: int | None = None
    """Connections the server opened to the nginx origin during the measured run (the
    origin's stub_status); None when the origin is not nginx."""
    upstream_connections_warmup: int | None = None
    """The same during the warm-up before it (a pool filling up, after the other
    server's round let its idle connections expire)."""


# ---------------------------------------------------------------- set-up


def whole_seconds(least: int) -> Callable[[str], int]:
    """An argparse type: wrk's -d takes whole seconds only (it refuses "0.5s")."""

    def parse(text: str) -> int:
        if not text.isdigit() or int(text) < least:
            raise argparse.ArgumentTypeError(f"{text!r}: a whole number of seconds >= {least}")
        return int(text)

    return parse


def parse_args(argv: list[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--scenario",
        action="append",
        choices=list(BY_NAME),
        help="run only this scenario (repeatable; default: all)",
    )
    parser.add_argument("--rounds", type=int, default=5, help="measured rounds per server")
    parser.add_argument(
        "--duration", type=whole_seconds(1), default=10, help="seconds per measured run"
    )
    parser.add_argument(
        "--warmup", type=whole_seconds(0), default=2, help="seconds of warm-up per run (0: none)"
    )
    parser.add_argument(
        "--connections", type=int, help="override every scenario's connection count"
    )
    parser.add_argument(
        "--out", type=Path, help="JSON results file (default: bench/results/<timestamp>.json)"
    )
    servers.add_frontdesk_cmd(parser)
    parser.add_argument(
        "--baseline-cmd",
        metavar="CMD",
        help="also measure this frontdesk command (as --frontdesk-cmd) as server "
        "frontdesk-base, e.g. another checkout: 'env PYTHONPATH=/tmp/main/src python -m "
        "frontdesk serve -c {config}'",
    )
    parser.add_argument(
        "--server",
        action="append",
        choices=ALL_SERVERS,
        help="measure only this server of each scenario (repeatable; default: all it names)",
    )
    parser.add_argument(
        "--keep-work",
        action="store_true",
        help="keep bench/.work/<timestamp>-<pid>/ (configs, logs) after success",
    )
    args = parser.parse_args(argv)
    stamp = time.strftime("%Y%m%dT%H%M%S")
    return Options(
        scenarios=[BY_NAME[n] for n in args.scenario] if args.scenario else SCENARIOS,
        rounds=args.rounds,
        duration=args.duration,
        warmup=args.warmup,
        connections=args.connections,
        out=args.out or BENCH / "results" / f"{stamp}.json",
        frontdesk_cmd=args.frontdesk_cmd,
        baseline_cmd=args.baseline_cmd,
        keep_work=args.keep_work,
        servers=tuple(args.server or ALL_SERVERS),
        work=BENCH / ".work" / f"{stamp}-{os.getpid()}",
    )


def ensure_tools(opts: Options) -> None:
    """Install nginx, wrk (and Varnish when a scenario uses it) from Debian when missing."""
    needed = {"wrk": "wrk", "nginx": "nginx-light"}
    if "varnish" in used_servers(opts):
        needed["varnishd"] = "varnish"
    if any(s.http2 for s in opts.scenarios):
        needed["h2load"] = "nghttp2-client"
    procs.ensure_commands(needed)


def used_servers(opts: Options) -> set[str]:
    return {name for s in opts.scenarios for name in scenario_servers(s, opts)}


def scenario_servers(scenario: Scenario, opts: Options) -> list[str]:
    # frontdesk-1 (a scenario's reference config) and the httptools floors come with
    # frontdesk: they are measured to explain its figures.
    names = [
        name
        for name in scenario.servers
        if ("frontdesk" if name.startswith("floor") else name.split("-")[0]) in opts.servers
    ]
    if opts.baseline_cmd and "frontdesk" in names:
        names.insert(names.index("frontdesk"), "frontdesk-base")
    return names


def machine(opts: Options) -> dict[str, str]:
    info = {
        "cpu": _cpu_model(),
        "cores": str(os.cpu_count()),
        "kernel": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "nginx": _first_line(["nginx", "-v"]),
        "wrk": _first_line(["wrk", "-v"]),
    }
    if "varnish" in used_servers(opts):
        info["varnish"] = servers.version("varnish")
    return info


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _first_line(argv: list[str]) -> str:
    """Version banners: nginx prints to stderr, wrk to stdout and exits 1."""
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    line = (done.stderr + done.stdout).strip().splitlines()[0]
    return line.removeprefix("nginx version: ").split(" Copyright")[0]


def cpus() -> tuple[int, int]:
    """(server core, wrk core); on one core they share it and the numbers mean little."""
    if (os.cpu_count() or 1) >= 2:
        return SERVER_CPU, WRK_CPU
    print("warning: one CPU only; server and wrk share it", file=sys.stderr)
    return SERVER_CPU, SERVER_CPU


# ---------------------------------------------------------------- measuring


def server_request(request: Request, server: servers.Server) -> Request:
    """The request as sent to `server`: with its own validators of the path (a plain GET
    first) when the request revalidates (scenarios.Request)."""
    if not request.needs_validators:
        return request
    _, _, fields = procs.http_fetch(server.port, request.path)
    return request.with_validators(fields.get("etag", ""), fields.get("last-modified", ""))


def check(scenario: Scenario, running: list[servers.Server]) -> None:
    """Both servers must answer the check request with the same status and body length
    (a 4xx scenario's status alone: each server words its error page its own way)."""
    answers = {}
    for s in running:
        request = server_request(scenario.check_request, s)
        status, length = procs.http_get(s.port, request.path, request.headers)
        answers[s.name] = (status, 0 if scenario.status else length)
    if len(set(answers.values())) != 1:
        raise RuntimeError(f"{scenario.name}: servers disagree (status, body length): {answers}")
    status, _ = next(iter(answers.values()))
    if not 200 <= status < 400 and status != scenario.status:
        raise RuntimeError(f"{scenario.name}: check answered {answers}")


def write_script(request: Request, workdir: Path) -> Path | None:
    text = wrk.lua_script(request)
    if text is None:
        return None
    path = workdir / "request.lua"
    path.write_text(text)
    return path


def check_hit(scenario: Scenario, server: servers.Server, when: str) -> None:
    """A cache scenario measures hits only: the measured request must come from the cache."""
    if not scenario.cache_hits:
        return
    request = server_request(scenario.request, server)
    status, _, fields = procs.http_fetch(server.port, request.path, request.headers)
    if not servers.is_cache_hit(server.name, fields):
        raise RuntimeError(
            f"{scenario.name}: {server.name} answered {status} {when}, not from its cache: {fields}"
        )


def measure(
    server: servers.Server,
    number: int,
    scenario: Scenario,
    opts: Options,
    script: Path | None,
    origin: int | None = None,
) -> Round:
    """Warm up, then one measured wrk (or h2load) run with the server tree's CPU time
    around it; with `origin` (the nginx origin's port), the connections the server
    opened to it in each."""
    if scenario.http2:
        return measure_h2(server, number, scenario, opts)
    scheme = "https" if scenario.tls else "http"
    url = f"{scheme}://127.0.0.1:{server.port}{scenario.request.path}"
    connections = opts.connections or scenario.connections
    _, wrk_cpu = cpus()
    accepts = [servers.origin_accepts(origin)] if origin else []
    if opts.warmup > 0:
        wrk.run(wrk.command(url, connections, opts.warmup, script, wrk_cpu), opts.warmup)
    check_hit(scenario, server, "after warm-up")
    if origin:
        accepts.append(servers.origin_accepts(origin))
    cpu_before = procs.cpu_seconds(server.proc.pid)
    output = wrk.run(wrk.command(url, connections, opts.duration, script, wrk_cpu), opts.duration)
    cpu_used = procs.cpu_seconds(server.proc.pid) - cpu_before
    if origin:
        accepts.append(servers.origin_accepts(origin))
    check_hit(scenario, server, "after the measured run")
    result = wrk.parse(output)
    # Each reading counts its own connection: one less between two readings.
    warm, measured = (
        (accepts[1] - accepts[0] - 1, accepts[2] - accepts[1] - 1) if origin else (None, None)
    )
    return Round(
        server=server.name,
        round=number,
        requests=result.requests,
        requests_per_s=result.requests_per_s,
        p99_ms=result.p99_ms,
        # A 412 or 416 scenario: every answer is a 4xx by design.
        errors=result.socket_errors if scenario.status else result.errors,
        cpu_us_per_request=cpu_used / max(result.requests, 1) * 1e6,
        upstream_connections=measured,
        upstream_connections_warmup=warm,
    )


def measure_h2(server: servers.Server, number: int, scenario: Scenario, opts: Options) -> Round:
    """An HTTP/2 scenario: h2load instead of wrk. h2load reports no percentiles: the
    p99 column holds its mean request time."""
    url = f"https://127.0.0.1:{server.port}{scenario.request.path}"
    connections = opts.connections or scenario.connections
    _, cpu = cpus()

    def argv(seconds: float) -> list[str]:
        return h2load.command(url, connections, scenario.streams, seconds, scenario.request, cpu)

    if opts.warmup > 0:
        h2load.run(argv(opts.warmup), opts.warmup)
    cpu_before = procs.cpu_seconds(server.proc.pid)
    output = h2load.run(argv(opts.duration), opts.duration)
    cpu_used = procs.cpu_seconds(server.proc.pid) - cpu_before
    result = h2load.parse(output)
    return Round(
        server=server.name,
        round=number,
        requests=result.requests,
        requests_per_s=result.requests_per_s,
        p99_ms=result.mean_ms,
        errors=result.errors,
        cpu_us_per_request=cpu_used / max(result.requests, 1) * 1e6,
    )


def interleaved(
    running: list[servers.Server],
    scenario: Scenario,
    opts: Options,
    scripts: dict[str, Path | None],
    origin: int | None = None,
) -> list[Round]:
    """Round i runs the servers in order, round i+1 in reverse (cancels drift)."""
    rounds: list[Round] = []
    for number in range(1, opts.rounds + 1):
        order = running if number % 2 else running[::-1]
        for server in order:
            result = measure(server, number, scenario, opts, scripts[server.name], origin)
            opened = ""
            if result.upstream_connections is not None:
                opened = (
                    f"  upstream connections opened {result.upstream_connections} "
                    f"(warm-up {result.upstream_connections_warmup})"
                )
            print(
                f"  round {number} {server.name:9} {result.requests_per_s:10.0f} req/s  "
                f"p99 {result.p99_ms:6.2f} ms  cpu {result.cpu_us_per_request:5.1f} us/req  "
                f"errors {result.errors}{opened}",
                flush=True,
            )
            rounds.append(result)
    return rounds


def run_scenario(scenario: Scenario, opts: Options, run_dir: Path) -> dict[str, Any]:
    print(f"\n## {scenario.name}: {scenario.description}", flush=True)
    server_cpu, wrk_cpu = cpus()
    running: list[servers.Server] = []
    helpers: list[servers.Server] = []
    extra: dict[str, str] = {}
    scratch: list[Path] = []
    origin: int | None = None  # the nginx origin's port: its connections are counted
    try:
        if scenario.upstream:
            workdir = run_dir / scenario.name / "backend"
            workdir.mkdir(parents=True)
            # The shared upstream sits on the wrk core: the server core stays the
            # server's alone, and both proxies pay the same backend.
            if scenario.origin == "nginx":
                backend, ports = servers.start_nginx_origin(workdir, wrk_cpu)
                origin = ports[0]
            else:
                backend, ports = servers.start_backend(
                    workdir, wrk_cpu, scenario.upstream, scenario.upstream_headers
                )
            helpers.append(backend)
            extra["upstream_port"] = str(ports[0])
            for i, port in enumerate(ports[1:], 2):
                extra[f"upstream_port{i}"] = str(port)
        if scenario.tls:
            extra.update(make_certificate(run_dir / scenario.name / "tls"))
        for name in scenario_servers(scenario, opts):
            workdir = run_dir / scenario.name / name
            workdir.mkdir(parents=True)
            create_files(scenario, workdir)
            scratch.append(Path(tempfile.mkdtemp(prefix=f"frontdesk-bench-{name}-", dir=SHM)))
            values = {**extra, "shm": str(scratch[-1])}
            running.append(_start(name, scenario, workdir, server_cpu, opts, values))
        check(scenario, running)
        scripts = {
            s.name: write_script(
                server_request(scenario.request, s), run_dir / scenario.name / s.name
            )
            for s in running
        }
        rounds = interleaved(running, scenario, opts, scripts, origin)
    finally:
        for server in running + helpers:
            procs.stop(server.proc)
        for path in scratch:
            shutil.rmtree(path, ignore_errors=True)
    return {
        "scenario": scenario.name,
        "description": scenario.description,
        "summary": summarise(rounds, [s.name for s in running]),
        "rounds": [asdict(r) for r in rounds],
    }


def make_certificate(directory: Path) -> dict[str, str]:
    """A self-signed ECDSA P-256 certificate for 127.0.0.1, made with openssl."""
    directory.mkdir(parents=True)
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "30",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    return {"cert": str(cert), "key": str(key)}


def create_files(scenario: Scenario, workdir: Path) -> None:
    for file in scenario.files:
        path = workdir / file.path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(file.content())


def _start(
    name: str,
    scenario: Scenario,
    workdir: Path,
    cpu: int,
    opts: Options,
    extra: dict[str, str],
) -> servers.Server:
    if name == "nginx":
        return servers.start_nginx(scenario, workdir, cpu, extra)
    if name == "varnish":
        return servers.start_varnish(workdir, cpu, extra)
    if name.startswith("floor"):
        return servers.start_floor(scenario, workdir, cpu, name == "floor-scan", extra)
    command = opts.baseline_cmd if name == "frontdesk-base" else opts.frontdesk_cmd
    return servers.start_frontdesk(scenario, workdir, cpu, command or "", extra, name)


# ---------------------------------------------------------------- reporting

METRICS = ("requests_per_s", "p99_ms", "errors", "cpu_us_per_request")


def summarise(rounds: list[Round], names: list[str]) -> dict[str, Any]:
    """Medians over rounds per server, and frontdesk's req/s ÷ each other server's."""
    summary: dict[str, Any] = {
        name: {
            m: statistics.median(getattr(r, m) for r in rounds if r.server == name) for m in METRICS
        }
        for name in names
    }
    for name in names:
        opened = [r.upstream_connections for r in rounds if r.server == name]
        counts = [n for n in opened if n is not None]
        if counts:
            # The most of any measured run: a pool that churns shows in every one.
            summary[name]["upstream_connections_max"] = max(counts)
    if "frontdesk" in summary:
        fd = summary["frontdesk"]["requests_per_s"]
        summary["ratios"] = {
            name: fd / summary[name]["requests_per_s"] for name in names if name != "frontdesk"
        }
        if "nginx" in summary["ratios"]:
            summary["ratio"] = summary["ratios"]["nginx"]  # the one the README tables show
    return summary


def table(results: list[dict[str, Any]]) -> str:
    """One row per scenario and server; `fd ÷` is frontdesk's req/s over that server's."""
    head = (
        "| scenario | server | req/s | fd ÷ | p99 ms | CPU µs/req | errors |\n"
        "|---|---|--:|--:|--:|--:|--:|"
    )
    rows = [head]
    for result in results:
        summary = result["summary"]
        ratios = summary.get("ratios", {})
        for name, medians in summary.items():
            if name in ("ratios", "ratio"):
                continue
            ratio = f"{ratios[name]:.2f}" if name in ratios else ""
            rows.append(
                f"| {result['scenario']} | {name} | {medians['requests_per_s']:.0f} | {ratio} "
                f"| {medians['p99_ms']:.2f} | {medians['cpu_us_per_request']:.1f} "
                f"| {medians['errors']:g} |"
            )
    return "\n".join(rows)


def write_json(opts: Options, info: dict[str, str], results: list[dict[str, Any]]) -> None:
    opts.out.parent.mkdir(parents=True, exist_ok=True)
    settings = {
        "rounds": opts.rounds,
        "duration_s": opts.duration,
        "warmup_s": opts.warmup,
        "connections": opts.connections,
        "frontdesk_cmd": opts.frontdesk_cmd,
    }
    document = {
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": info,
        "settings": settings,
        "results": results,
    }
    opts.out.write_text(json.dumps(document, indent=2) + "\n")


# ---------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    opts = parse_args(argv)
    procs.stop_servers_on_signals()
    ensure_tools(opts)
    info = machine(opts)
    print("machine: " + ", ".join(f"{k}: {v}" for k, v in info.items()), flush=True)
    run_dir = opts.work
    try:
        results = [run_scenario(s, opts, run_dir) for s in opts.scenarios]
    except (RuntimeError, ValueError, subprocess.SubprocessError) as error:
        print(f"\nbench failed: {error}\n(configs and logs kept in {run_dir})", file=sys.stderr)
        return 1
    print("\n" + table(results))
    write_json(opts, info, results)
    print(f"\nresults: {opts.out}")
    if not opts.keep_work:
        shutil.rmtree(run_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except KeyboardInterrupt:
        print("\ninterrupted; servers stopped", file=sys.stderr)
        raise SystemExit(130) from None

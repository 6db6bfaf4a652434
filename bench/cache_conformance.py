"""The HTTP cache conformance suite (cache-tests.fyi) against a reverse-proxy cache.

    .venv/bin/python bench/cache_conformance.py [--cache nginx|varnish|frontdesk ...]
                                                [--workers N ...] [--id TEST_ID] [--out FILE]

Runs Mark Nottingham's `http-cache-tests` (npm) the way cache-tests.fyi runs it for
reverse proxies: its origin server on 127.0.0.1, the cache under test in front of it,
and its command-line client sending every test's requests through the cache. Node, npm
and the package are installed when missing (apt for node, npm into bench/.cache-tests/,
git-ignored); nothing of the suite is kept in this repository.

How results are counted (the same way as the published table's "134 of 160"):
  required  tests of tests/index.mjs whose `kind` is absent or "required" (160); the
            cli adds the surrogate-control suite, which is not counted there
  passed    the raw result is `true`. Dependencies are not applied (the web page greys
            out a test whose prerequisite failed; the count does not), and the 3
            browser-only required tests are never run against a proxy, so 157 is the
            most a reverse proxy can pass
  all       every test the cli runs (355), `check` ones included, passed when `true`

frontdesk is run once per `--workers` count (default 1 and 2) and the counts are printed
side by side: one cache whatever the number of workers means the same count.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import procs
import servers

BENCH = Path(__file__).resolve().parent
HOME = BENCH / ".cache-tests"
PACKAGE = "http-cache-tests"
VERSION = "0.4.5"
SUITE = HOME / "node_modules" / PACKAGE
RUN_TIMEOUT = 300.0
"""The whole suite takes ~15 s (tests run 100 at a time, the longest pauses are a few s)."""

# The suite's server calls `server.listen(port)`, which binds every interface; this
# preload narrows any listen on a bare port to loopback, so nothing else can reach it.
LOOPBACK_PRELOAD = """\
import net from 'net'
const listen = net.Server.prototype.listen
net.Server.prototype.listen = function (port, ...rest) {
  if (typeof port === 'number' || typeof port === 'string') {
    return listen.call(this, Number(port), '127.0.0.1', ...rest)
  }
  return listen.call(this, port, ...rest)
}
"""

# The test definitions as JSON (id, name, kind, suite), so the counting is done here
# rather than by the suite's browser-only display code.
DUMP_TESTS = f"""\
import tests from './node_modules/{PACKAGE}/tests/index.mjs'
import surrogate from './node_modules/{PACKAGE}/tests/surrogate-control.mjs'
const out = []
for (const [suites, counted] of [[tests, true], [[surrogate], false]]) {{
  for (const suite of suites) {{
    for (const t of suite.tests) {{
      out.push({{ suite: suite.id, id: t.id, name: t.name, kind: t.kind || 'required',
        browser_only: t.browser_only === true, counted }})
    }}
  }}
}}
console.log(JSON.stringify(out))
"""

FRONTDESK_CONFIG = """\
[server]
listen = ["127.0.0.1:{port}"]
workers = {workers}
access_log = "{workdir}/access.log"

[[route]]
proxy = {{ pool = "origin" }}
cache = "main"

[pool.origin]
servers = ["127.0.0.1:{origin}"]

[cache.main]
memory = "64MB"
{settings}"""

# As the suite's own docker image runs nginx (docker/nginx/nginx.conf there): a disk
# cache, revalidation with conditional requests on.
NGINX_HTTP = """
    proxy_cache_path {workdir}/cache levels=1:2 keys_zone=conformance:8m max_size=1000m
                     inactive=600m;
"""
NGINX_SERVER = """
    location / {
        proxy_pass http://127.0.0.1:{origin};
        proxy_cache conformance;
        proxy_cache_revalidate on;
    }
"""


@dataclass(frozen=True)
class Test:
    id: str
    name: str
    kind: str
    suite: str
    browser_only: bool
    counted: bool

    @property
    def required(self) -> bool:
        return self.counted and self.kind == "required"


# ---------------------------------------------------------------- installing


def ensure_node() -> None:
    procs.ensure_commands({"node": "nodejs", "npm": "npm"})


def ensure_suite() -> None:
    """npm-install the suite into bench/.cache-tests/ once; write our two helper scripts."""
    HOME.mkdir(exist_ok=True)
    if not (SUITE / "package.json").exists():
        print(f"installing {PACKAGE}@{VERSION} from npm ...", flush=True)
        subprocess.run(
            ["npm", "install", "--prefix", str(HOME), "--no-audit", "--no-fund", "--no-save"]
            + [f"{PACKAGE}@{VERSION}"],
            check=True,
            timeout=600,
        )
    (HOME / "loopback.mjs").write_text(LOOPBACK_PRELOAD)
    (HOME / "dump-tests.mjs").write_text(DUMP_TESTS)


def ensure_cache(name: str) -> None:
    if name == "nginx":
        procs.ensure_commands({"nginx": "nginx-light"})
    elif name == "varnish":
        procs.ensure_commands({"varnishd": "varnish"})


def load_tests() -> list[Test]:
    done = subprocess.run(
        ["node", "dump-tests.mjs"], cwd=HOME, capture_output=True, text=True, check=True
    )
    return [Test(**item) for item in json.loads(done.stdout)]


# ---------------------------------------------------------------- running


def suite_env(**config: str) -> dict[str, str]:
    """The suite reads its settings as npm would pass them (`npm run cli --base=...`)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("npm_")}
    env.update({f"npm_config_{k}": v for k, v in config.items()})
    # cli.mjs falls back to the package.json config when npm_config_id is empty.
    env["npm_package_config_id"] = ""
    return env


def start_origin(workdir: Path) -> servers.Server:
    port = procs.free_port()
    argv = ["node", "--import", str(HOME / "loopback.mjs"), "server/server.mjs"]
    env = suite_env(protocol="http", port=str(port), pidfile=str(workdir / "origin.pid"))
    # handle-file.mjs serves files relative to the working directory.
    return servers.start("origin", argv, port, workdir, None, cwd=SUITE, env=env)


def start_nginx(workdir: Path, origin: int) -> servers.Server:
    port = procs.free_port()
    values = {"origin": str(origin), "workdir": str(workdir)}
    conf = workdir / "nginx.conf"
    conf.write_text(servers.nginx_conf_text(NGINX_SERVER, NGINX_HTTP, port, workdir, values))
    return servers.start("nginx", servers.nginx_argv(conf, workdir), port, workdir, cpu=None)


def start_varnish(workdir: Path, origin: int) -> servers.Server:
    """Varnish as the suite's docker image runs it: the built-in VCL, `-b` the origin."""
    port = procs.free_port()
    argv = servers.varnish_argv(port, origin, workdir)
    return servers.start("varnish", argv, port, workdir, cpu=None)


def start_frontdesk(
    workdir: Path, origin: int, command: str, settings: list[str], workers: int
) -> servers.Server:
    """`settings` are extra `key = value` lines of [cache.main] (--cache-set)."""
    port = procs.free_port()
    conf = workdir / "frontdesk.toml"
    lines = "".join(f"{line}\n" for line in settings)
    conf.write_text(
        FRONTDESK_CONFIG.format(
            port=port, origin=origin, workdir=workdir, settings=lines, workers=workers
        )
    )
    argv = servers.frontdesk_argv(command, conf)
    return servers.start("frontdesk", argv, port, workdir, cpu=None)


def run_client(base: str, test_id: str = "") -> str:
    env = suite_env(base=base, id=test_id)
    done = subprocess.run(
        ["node", "--no-warnings", "cli.mjs"],
        cwd=SUITE,
        env=env,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        check=False,
    )
    if done.returncode != 0 or (not test_id and not done.stdout.lstrip().startswith("{")):
        raise RuntimeError(f"the suite's client failed ({done.returncode}):\n{done.stderr}")
    return done.stdout


# ---------------------------------------------------------------- counting


@dataclass(frozen=True)
class Summary:
    required_passed: int
    required: int
    passed: int
    total: int
    failed_required: list[tuple[Test, Any]]


def summarise(tests: list[Test], results: dict[str, Any]) -> Summary:
    required = [t for t in tests if t.required]
    failed = [(t, results.get(t.id)) for t in required if results.get(t.id) is not True]
    return Summary(
        required_passed=len(required) - len(failed),
        required=len(required),
        passed=sum(1 for t in tests if results.get(t.id) is True),
        total=len(tests),
        failed_required=failed,
    )


def report(cache: str, summary: Summary) -> str:
    lines = [
        f"{cache}: required {summary.required_passed}/{summary.required} passed, "
        f"{summary.required - summary.required_passed} failed; "
        f"all {summary.passed}/{summary.total} passed, {summary.total - summary.passed} not",
        "failed required tests:",
    ]
    for test, result in summary.failed_required:
        why = "not run (browser only)" if test.browser_only else _reason(result)
        lines.append(f"  {test.id}: {test.name} -- {why}")
    return "\n".join(lines)


def _reason(result: Any) -> str:
    if result is None:
        return "no result"
    if isinstance(result, list) and len(result) == 2:
        return f"{result[0]}: {result[1]}"
    return str(result)


# ---------------------------------------------------------------- main

CACHES = ("nginx", "varnish", "frontdesk")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--cache",
        action="append",
        choices=CACHES,
        help="cache under test (repeatable; default: frontdesk)",
    )
    parser.add_argument(
        "--workers",
        action="append",
        type=int,
        metavar="N",
        help="run frontdesk with `workers = N` (repeatable; default: 1 and 2)",
    )
    parser.add_argument(
        "--id", default="", help="run this one test and print its requests and responses"
    )
    parser.add_argument(
        "--out", type=Path, help="results JSON (default: bench/results/conformance-<time>.json)"
    )
    servers.add_frontdesk_cmd(parser)
    parser.add_argument(
        "--cache-set",
        action="append",
        default=[],
        metavar="'KEY = VALUE'",
        help="a TOML line added to frontdesk's [cache.main] (repeatable), "
        "e.g. 'store_set_cookie = true'",
    )
    parser.add_argument(
        "--keep-work", action="store_true", help="keep configs and logs of the caches"
    )
    return parser.parse_args(argv)


def run_one(
    cache: str, args: argparse.Namespace, work: Path, tests: list[Test], workers: int = 1
) -> dict[str, Any] | None:
    """One run of the suite; frontdesk with `workers` worker processes."""
    label = f"{cache} (workers = {workers})" if cache == "frontdesk" else cache
    workdir = work / (f"{cache}-{workers}" if cache == "frontdesk" else cache)
    workdir.mkdir(parents=True)
    starters: dict[str, Callable[[Path, int], servers.Server]] = {
        "nginx": start_nginx,
        "varnish": start_varnish,
        "frontdesk": lambda w, o: start_frontdesk(
            w, o, args.frontdesk_cmd, args.cache_set, workers
        ),
    }
    running: list[servers.Server] = []
    try:
        origin = start_origin(workdir)
        running.append(origin)
        server = starters[cache](workdir, origin.port)
        running.append(server)
        base = f"http://127.0.0.1:{server.port}"
        output = run_client(base, args.id)
    finally:
        for proc in reversed(running):
            procs.stop(proc.proc)
    if args.id:
        print(output)
        return None
    results: dict[str, Any] = json.loads(output)
    summary = summarise(tests, results)
    print(report(label, summary), flush=True)
    return {
        "cache": cache,
        "workers": workers if cache == "frontdesk" else None,
        "version": servers.version(cache),
        "required_passed": summary.required_passed,
        "required": summary.required,
        "passed": summary.passed,
        "total": summary.total,
        "failed_required": [t.id for t, _ in summary.failed_required],
        "results": results,
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    procs.stop_servers_on_signals()
    caches: list[str] = args.cache or ["frontdesk"]
    ensure_node()
    ensure_suite()
    for cache in caches:
        ensure_cache(cache)
    tests = load_tests()
    (BENCH / ".work").mkdir(exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="conformance-", dir=BENCH / ".work"))
    documents = []
    try:
        for cache in caches:
            counts = (args.workers or [1, 2]) if cache == "frontdesk" and not args.id else [1]
            for workers in counts:
                document = run_one(cache, args, work, tests, workers)
                if document is not None:
                    documents.append(document)
    except (RuntimeError, subprocess.SubprocessError) as error:
        print(f"\nconformance run failed: {error}\n(configs and logs in {work})", file=sys.stderr)
        return 1
    if documents:
        stamp = time.strftime("%Y%m%dT%H%M%S")
        out: Path = args.out or BENCH / "results" / f"conformance-{stamp}.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps({"package": f"{PACKAGE}@{VERSION}", "runs": documents}) + "\n")
        print(f"\nsuite: {PACKAGE}@{VERSION} (cache-tests.fyi), reverse-proxy mode")
        print("\n".join(_table_row(d) for d in documents))
        side = _side_by_side(documents)
        if side:
            print(side)
        print(f"\nresults: {out}")
    if not args.keep_work:
        shutil.rmtree(work, ignore_errors=True)
    return 0


def _table_row(document: dict[str, Any]) -> str:
    workers = document.get("workers")
    shape = f", workers = {workers}" if workers is not None else ""
    return (
        f"{document['cache']} ({document['version']}{shape}): required "
        f"{document['required_passed']}/{document['required']}, "
        f"all {document['passed']}/{document['total']}"
    )


def _side_by_side(documents: list[dict[str, Any]]) -> str:
    """frontdesk's counts per worker count on one line, and whether they agree (the
    same required tests pass, not merely as many)."""
    runs = [d for d in documents if d["cache"] == "frontdesk"]
    if len(runs) < 2:
        return ""
    cells = "  |  ".join(
        f"workers = {d['workers']}: required {d['required_passed']}/{d['required']}, "
        f"all {d['passed']}/{d['total']}"
        for d in runs
    )
    same = len({tuple(sorted(d["failed_required"])) for d in runs}) == 1
    verdict = "the same required tests pass" if same else "DIFFERENT required tests pass"
    return f"\nfrontdesk side by side: {cells}  ->  {verdict}"


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except KeyboardInterrupt:
        print("\ninterrupted; servers stopped", file=sys.stderr)
        raise SystemExit(130) from None

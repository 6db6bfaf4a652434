"""Command line: the only place that prints to the user and exits.

frontdesk serve [-c FILE] [--workers N]   run (no -c: the embedded default config)
frontdesk demo [--port N] [--dir DIR]     a route planner app behind frontdesk, to look at
frontdesk check -c FILE                   validate; every error with key path and line
frontdesk reload -c FILE                  validate, then have the running master load it
                                          (admin API, waiting for the apps; else SIGHUP)
frontdesk restart APP [-c FILE]           rolling restart of an [app.NAME]'s instances
frontdesk stop -c FILE                    graceful stop of the running master (SIGTERM)
frontdesk status [-c FILE] [--json]       the running server's workers and figures
frontdesk pool drain|disable|enable POOL SERVER [-c FILE]
                                          take a server out of a pool, or put it back
frontdesk purge [-c FILE] [URL ...] [--prefix URL] [--tag TAG] [--cache NAME]
                                          remove cached responses in every worker and tier
frontdesk passwd FILE USER [--delete]     set a user's password in an htpasswd file (bcrypt)
frontdesk sign URL -c FILE [--expires 1h] [--access NAME] [--client-address IP]
                                          a signed, expiring URL for a `signed` access rule
frontdesk deploy init DIR                 a git repository whose pushes deploy (deploy/)
frontdesk serve --deploy DIR              serve the live release of DIR
frontdesk releases | rollback [ID] | config | config:set K=V | config:unset K  [-d DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from typing import Any

from frontdesk import __version__
from frontdesk.config import apply_env, default_config, load_file
from frontdesk.config.model import Config
from frontdesk.errors import ConfigError, FrontdeskError

EXIT_CONFIG = 2


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="frontdesk", description=__doc__.split("\n\n")[0])
    p.add_argument("--version", action="version", version=f"frontdesk {__version__}")
    sub = p.add_subparsers(dest="command")
    serve = sub.add_parser("serve", help="run the server")
    serve.add_argument("-c", "--config", help="TOML config file (default: embedded welcome config)")
    serve.add_argument("--workers", type=int, help="override server.workers")
    serve.add_argument("--deploy", metavar="DIR", help="serve the live release of a deploy dir")
    demo = sub.add_parser(
        "demo",
        help="run a demo: a route planner app behind frontdesk, in a browser",
        description="Writes a demo site, app and config to a temporary directory (or "
        "--dir), runs frontdesk on them and prints the URLs to open. Ctrl-C stops it.",
    )
    demo.add_argument("--port", type=int, default=8080, help="port on 127.0.0.1 (default 8080)")
    demo.add_argument("--dir", help="write the demo here and keep it (default: a temp dir)")
    for name, text in (
        ("check", "validate a config file and report every error"),
        ("reload", "validate the config, then make the running server load it"),
        ("stop", "stop the running server gracefully"),
    ):
        cmd = sub.add_parser(name, help=text)
        cmd.add_argument("-c", "--config", required=True, help="TOML config file")
    restart = sub.add_parser(
        "restart",
        help="rolling restart of an app's instances in the running server",
        description="Start a new instance, wait for its check, put it in the pool, "
        "drain and stop an old one; one instance at a time. Exits non-zero if a new "
        "instance is not ready within start_timeout (the old ones keep serving).",
    )
    restart.add_argument("app", help="the app's name, as in [app.NAME]")
    restart.add_argument("-c", "--config", help="TOML config file (default: embedded config)")
    status = sub.add_parser("status", help="show the running server's workers and figures")
    status.add_argument("-c", "--config", help="TOML config file (default: embedded config)")
    status.add_argument("--json", action="store_true", help="print the admin API's JSON")
    status.add_argument(
        "--watch", nargs="?", type=float, const=2.0, metavar="SECONDS",
        help="redraw in place every SECONDS (default 2) until Ctrl-C",
    )  # fmt: skip
    explain = sub.add_parser(
        "explain",
        help="say what the server would do with a request, without sending it",
        description="Which route matches and why (and why each earlier one did not), the "
        "access rules and rate limits that apply, the cache key and what the cache would "
        "do, and the pool and balancing policy a proxied request would use.",
    )
    explain.add_argument("request", help="'METHOD URL', e.g. 'GET https://example.com/path'")
    explain.add_argument(
        "-H", "--header", action="append", default=[], metavar="'Name: value'",
        help="a request header (repeatable)",
    )  # fmt: skip
    explain.add_argument("-c", "--config", help="TOML config file (default: embedded config)")
    explain.add_argument("--json", action="store_true", help="print JSON")
    pool = sub.add_parser(
        "pool",
        help="drain, disable or enable a server of a pool in the running server",
        description="drain: no new requests, those in flight finish; disable: out of "
        "rotation; enable: back in. The state holds across worker restarts and reloads.",
    )
    pool.add_argument("action", choices=("drain", "disable", "enable"))
    pool.add_argument("pool", help="the pool's name, as in [pool.NAME]")
    pool.add_argument("server", help="the server, as `frontdesk status` lists it")
    pool.add_argument("-c", "--config", help="TOML config file (default: embedded config)")
    purge = sub.add_parser("purge", help="remove cached responses (every worker, every tier)")
    purge.add_argument("-c", "--config", help="TOML config file (default: embedded config)")
    purge.add_argument("urls", nargs="*", metavar="URL", help="absolute URL to remove")
    purge.add_argument("--prefix", help="remove every URL starting with this one")
    purge.add_argument("--tag", help="remove every response tagged so (Surrogate-Key, Cache-Tag)")
    purge.add_argument("--cache", help="only this [cache.NAME] (default: all)")
    passwd = sub.add_parser(
        "passwd",
        help="add or update a user in an htpasswd file (prompts; reads stdin when piped)",
    )
    passwd.add_argument("file", help="the htpasswd file (created if missing)")
    passwd.add_argument("user")
    passwd.add_argument("--delete", action="store_true", help="remove the user instead")
    sign = sub.add_parser("sign", help="print a signed, expiring URL")
    sign.add_argument("url", help="the URL or path to sign, e.g. /downloads/report.pdf")
    sign.add_argument("-c", "--config", required=True, help="TOML config file (for the keys)")
    sign.add_argument("--expires", default="1h", help='validity, e.g. "10m", "1h" (default 1h)')
    sign.add_argument("--access", help="the [access.NAME] rule (default: the only signed one)")
    sign.add_argument("--client-address", help="bind the URL to this client address")
    from frontdesk.deploy.cli_args import add_parsers

    add_parsers(sub)
    return p


def _load(path: str | None) -> Config:
    config = default_config() if path is None else load_file(path)
    return apply_env(config, os.environ)


def _report(exc: ConfigError) -> int:
    for issue in exc.issues:
        print(issue, file=sys.stderr)
    n = len(exc.issues)
    print(f"{n} error{'s' if n != 1 else ''} in the config", file=sys.stderr)
    return EXIT_CONFIG


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    command = args.command or "serve"
    if command == "passwd":
        return _passwd(args.file, args.user, args.delete)
    from frontdesk.deploy.cli_args import COMMANDS

    if command in COMMANDS:
        from frontdesk.deploy.commands import run

        return run(args)
    if command == "serve" and args.deploy is not None:
        return _serve_deploy(args.deploy, args.workers)
    if command == "demo":
        from frontdesk.demo.run import main as demo

        return demo(args.port, args.dir)
    path = getattr(args, "config", None)
    try:
        config = _load(path)
    except ConfigError as exc:
        return _report(exc)
    if command == "check":
        print(f"{path}: ok ({len(config.routes)} routes)")
        return 0
    if command == "status":
        if args.watch is not None:
            return _watch(config, args.watch, args.json)
        return _status(config, args.json)
    if command == "explain":
        return _explain(config, args.request, args.header, args.json)
    if command == "pool":
        return _pool(config, args.action, args.pool, args.server)
    if command == "purge":
        return _purge(config, args)
    if command == "restart":
        return _restart(config, args.app)
    if command == "reload":
        return _reload(config)
    if command == "stop":
        return _signal_master(config, signal.SIGTERM)
    if command == "sign":
        return _sign(config, args)
    if args.workers is not None:
        if args.workers < 1:
            print("--workers must be at least 1", file=sys.stderr)
            return EXIT_CONFIG
        config = config.model_copy(
            update={"server": config.server.model_copy(update={"workers": args.workers})}
        )
    return _serve(config, path)


def _passwd(path: str, user: str, delete: bool) -> int:
    import getpass

    from frontdesk.access.passwd import PasswdError, delete_user, set_password

    try:
        if delete:
            delete_user(path, user)
            print(f"{path}: removed {user}")
            return 0
        if sys.stdin.isatty():
            password = getpass.getpass(f"password for {user}: ")
            if getpass.getpass("again: ") != password:
                print("the passwords differ; nothing changed", file=sys.stderr)
                return 1
        else:
            password = sys.stdin.readline().rstrip("\r\n")
        new = set_password(path, user, password.encode("utf-8"))
    except PasswdError as exc:
        print(f"frontdesk passwd: {exc}", file=sys.stderr)
        return 1
    print(f"{path}: {'added' if new else 'updated'} {user}")
    return 0


def _sign(config: Config, args: argparse.Namespace) -> int:
    from frontdesk.access.signed import sign_url
    from frontdesk.config.units import parse_duration

    rules = {**config.auth_rules, **config.access_rules}
    signed = {name: r.signed for name, r in rules.items() if r.signed is not None}
    name = args.access
    if name is None and len(signed) == 1:
        name = next(iter(signed))
    if name not in signed:
        which = ", ".join(sorted(signed)) or "none"
        print(f"frontdesk sign: name one --access rule with `signed` ({which})", file=sys.stderr)
        return 1
    try:
        seconds = float(parse_duration(args.expires))
    except ValueError as exc:
        print(f"frontdesk sign: --expires: {exc}", file=sys.stderr)
        return 1
    rule = signed[name]
    address = args.client_address
    if rule.client_address and not address:
        print(f"frontdesk sign: [access.{name}] binds URLs to --client-address", file=sys.stderr)
        return 1
    print(sign_url(args.url, rule.keys[0], seconds, client_address=address))
    return 0


def _signal_master(config: Config, sig: signal.Signals) -> int:
    pid_file = config.pid_file_path()
    try:
        with open(pid_file) as f:
            pid = int(f.read().strip())
        os.kill(pid, sig)
    except (OSError, ValueError) as exc:
        print(f"no running frontdesk found via {pid_file}: {exc}", file=sys.stderr)
        return 1
    print(f"sent {sig.name} to frontdesk master {pid}")
    return 0


# A rolling replacement waits for each new instance (up to its start_timeout).
_LONG_CALL = 3600.0


def _reload(config: Config) -> int:
    """Through the admin API when it answers (the reply says whether the apps' new
    instances became ready); else SIGHUP, as before the admin API existed."""
    from frontdesk.master.admin import call

    pid_file = config.pid_file_path()
    try:
        with open(pid_file) as f:
            pid = int(f.read().strip())
    except (OSError, ValueError) as exc:
        print(f"no running frontdesk found via {pid_file}: {exc}", file=sys.stderr)
        return 1
    address = config.admin_address()
    try:
        if address is None:
            raise OSError("admin API off")
        code, payload = call(
            address, "POST", "/reload", {}, timeout=_LONG_CALL, token=config.admin.token
        )
    except OSError:
        return _signal_master(config, signal.SIGHUP)
    if code == 404:  # a master from before POST /reload
        return _signal_master(config, signal.SIGHUP)
    if code != 200:
        print(f"frontdesk master {pid}: reload failed:", file=sys.stderr)
        for error in payload.get("errors", [payload.get("error", code)]):
            print(f"  {error}", file=sys.stderr)
        return 1
    print(f"reloaded frontdesk master {pid}: generation {payload['generation']} serving")
    return 0


def _restart(config: Config, app: str) -> int:
    from urllib.parse import quote

    answer = _admin(config, "POST", f"/apps/{quote(app, safe='')}/restart", {}, _LONG_CALL)
    if answer is None:
        return 1
    code, payload = answer
    if code != 200:
        print(f"frontdesk restart {app}: {payload.get('error', code)}", file=sys.stderr)
        return EXIT_CONFIG if code == 404 else 1
    pids = ", ".join(f"{i['instance']} pid {i['pid']}" for i in payload["instances"])
    print(f"app {app} restarted: {pids}")
    return 0


def _admin(
    config: Config, method: str, path: str, body: Any = None, timeout: float = 10.0
) -> tuple[int, Any] | None:
    """One admin API call to the running server; None (said on stderr) if none answers."""
    from frontdesk.master.admin import call

    address = config.admin_address()
    if address is None:
        print("the admin API is off in this config (admin.listen)", file=sys.stderr)
        return None
    try:
        return call(address, method, path, body, timeout, token=config.admin.token)
    except OSError as exc:
        where = address if isinstance(address, str) else f"{address[0]}:{address[1]}"
        print(f"no running frontdesk answers at {where}: {exc}", file=sys.stderr)
        return None


def _admin_ok(config: Config, method: str, path: str, body: Any = None) -> Any:
    """:func:`_admin`'s payload when the answer is 200; else None, the error said."""
    answer = _admin(config, method, path, body)
    if answer is None:
        return None
    code, payload = answer
    if code != 200:
        print(f"admin API: {code} {payload.get('error', '')}", file=sys.stderr)
        for error in payload.get("errors", ()):
            print(f"  {error}", file=sys.stderr)
        return None
    return payload


def _pool(config: Config, action: str, pool: str, server: str) -> int:
    from urllib.parse import quote

    answer = _admin(config, "POST", f"/pools/{quote(pool, safe='')}/{action}", {"server": server})
    if answer is None:
        return 1
    code, payload = answer
    if code != 200:
        # An unknown pool or server: the operator's mistake, like a config error.
        print(f"frontdesk pool {action}: {payload.get('error', code)}", file=sys.stderr)
        return EXIT_CONFIG
    members = payload.get("members", [])
    also = f" ({', '.join(members)})" if members != [payload["server"]] else ""
    print(f"pool {payload['pool']}: server {payload['server']}{also} is now {payload['state']}")
    return 0


def _purge(config: Config, args: argparse.Namespace) -> int:
    if not (args.urls or args.prefix or args.tag):
        print("frontdesk purge: give URLs, --prefix URL or --tag TAG", file=sys.stderr)
        return EXIT_CONFIG
    body = {"urls": args.urls, "prefix": args.prefix, "tag": args.tag, "cache": args.cache}
    payload = _admin_ok(config, "POST", "/cache/purge", body)
    if payload is None:
        return 1
    n = payload["removed"]
    print(f"purged {n} entr{'y' if n == 1 else 'ies'} in {payload['workers']} worker(s)")
    return 0


def _status(config: Config, as_json: bool) -> int:
    from frontdesk.master.status import format_status

    payload = _admin_ok(config, "GET", "/status")
    if payload is None:
        return 1
    print(json.dumps(payload, indent=2) if as_json else format_status(payload))
    return 0


def _watch(config: Config, every: float, as_json: bool) -> int:
    """`status --watch`: redraw in place until Ctrl-C (the screen cleared each time)."""
    import signal

    if every <= 0:
        print("--watch needs a positive number of seconds", file=sys.stderr)
        return EXIT_CONFIG
    # Ctrl-C (or a TERM) is taken between redraws only: blocked, it waits as pending
    # for sigtimedwait, the pause between redraws. As a KeyboardInterrupt it could land
    # in a destructor, where Python reports and swallows it, and the loop went on.
    stops = {signal.SIGINT, signal.SIGTERM}
    before = signal.pthread_sigmask(signal.SIG_BLOCK, stops)
    try:
        while True:
            sys.stdout.write("\x1b[H\x1b[2J")  # cursor home, clear: redrawn in place
            code = _status(config, as_json)
            sys.stdout.flush()
            if code:
                return code
            if signal.sigtimedwait(stops, every) is not None:
                return 0
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, before)


def _explain(config: Config, request: str, headers: list[str], as_json: bool) -> int:
    from frontdesk.admin.explain import ExplainError, explain, parse_request, render_text

    try:
        req = parse_request(request, headers)
    except ExplainError as exc:
        print(f"explain: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    found = explain(config, req)
    print(json.dumps(found.to_json(), indent=2) if as_json else render_text(found))
    return 0


def _serve(config: Config, path: str | None) -> int:
    import uvloop

    from frontdesk.log import setup_error_log
    from frontdesk.master.sockets import bind

    # The ports first, before the rest of the master is even imported: connections wait
    # in the backlog until the workers take them (a platform's boot check only needs
    # the port bound).
    early = {}
    try:
        for addr in dict.fromkeys(config.listen_addresses()):
            early[addr] = bind(addr, config.server.backlog)
    except OSError as exc:
        for sock in early.values():
            sock.close()
        print(f"frontdesk: cannot listen on {addr[0]}:{addr[1]}: {exc.strerror}", file=sys.stderr)
        return 1
    from frontdesk.master.workers import Master

    setup_error_log()
    reload = (lambda: _load(path)) if path is not None else None
    master = Master(config, reload)
    master.sockets.update(early)
    master.config_path = os.path.abspath(path) if path is not None else None
    pid_file = config.pid_file_path()
    try:
        with open(pid_file, "w") as f:
            f.write(f"{os.getpid()}\n")
    except OSError as exc:
        print(f"warning: cannot write pid file {pid_file}: {exc}", file=sys.stderr)
        pid_file = ""
    try:
        return uvloop.run(master.run())
    except OSError as exc:
        print(f"frontdesk: {exc}", file=sys.stderr)
        return 1
    except FrontdeskError as exc:
        print(f"frontdesk: {exc}", file=sys.stderr)
        return 1
    finally:
        if pid_file:
            try:
                os.remove(pid_file)
            except OSError:
                pass


def _serve_deploy(path: str, workers: int | None) -> int:
    """`serve --deploy DIR`: the master serving DIR's live release (deploy/serve.py)."""
    import uvloop

    from frontdesk.deploy.layout import DeployDir, DeployError
    from frontdesk.deploy.serve import DeployMaster
    from frontdesk.log import setup_error_log

    d = DeployDir.at(path)
    if not d.is_deploy_dir():
        print(
            f"{d.root} is not a deploy directory: make it with `frontdesk deploy init`",
            file=sys.stderr,
        )
        return EXIT_CONFIG
    setup_error_log()
    try:
        master = DeployMaster(d, None if workers is None else max(1, workers))
    except ConfigError as exc:
        return _report(exc)
    except DeployError as exc:
        print(f"frontdesk: {exc}", file=sys.stderr)
        return 1
    try:
        return uvloop.run(master.run())
    except (OSError, FrontdeskError) as exc:
        print(f"frontdesk: {exc}", file=sys.stderr)
        return 1
    finally:
        master.remove_server_file()

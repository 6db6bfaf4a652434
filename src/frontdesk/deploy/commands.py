"""The deploy's commands: `deploy init`, `deploy hook`, `releases`, `rollback`, `config*`.

cli.py hands them the parsed arguments; each returns the exit status and prints for
the person at the terminal (or, for the hook, for the person pushing).
"""

from __future__ import annotations

import argparse
import getpass
import os
import shlex
import socket
import subprocess
import sys
import time

from frontdesk.errors import ConfigError

from .configvars import check_name, parse_assignments, read_vars, write_vars
from .hook import apply_release, run_hook
from .layout import SETTINGS_NAME, DeployDir, DeployError
from .lock import DeployLock
from .output import Output
from .releases import ReleaseLog, rollback_target, states

__all__ = ["run", "init", "list_releases", "rollback", "change_vars"]

_HOOK = """#!/bin/sh
# Installed by `frontdesk deploy init`: every push to this repository is deployed.
# It runs before git moves the branch, so a failed deploy rejects the push.
exec {python} -m frontdesk deploy hook {root}
"""

_SETTINGS = """# frontdesk deploy settings for {root} (see docs/deploy.md).
# They belong to this machine, not to the app: a push cannot change them.
branch = "{branch}"          # the branch a push deploys
listen = ["{listen}"]        # where `frontdesk serve --deploy` listens ($PORT overrides the port)
keep = {keep}                   # releases kept (the live and the previous one always are)
"""


def run(args: argparse.Namespace) -> int:
    try:
        if args.command == "deploy":
            if args.deploy_command == "init":
                return init(args.dir, args.listen, args.branch, args.keep)
            d = DeployDir.at(args.dir)
            return run_hook(d, sys.stdin, Output())
        d = _find(args.deploy)
        if args.command == "releases":
            return list_releases(d)
        if args.command == "config":
            for name, value in read_vars(d).items():
                print(f"{name}={value}")
            return 0
        if args.command == "rollback":
            return rollback(d, args.release)
        if args.command == "config:set":
            return change_vars(d, parse_assignments(args.assignments), ())
        return change_vars(d, {}, [check_name(n) for n in args.names])
    except DeployError as exc:
        print(f"frontdesk {args.command}: {exc}", file=sys.stderr)
        return 1
    except ConfigError as exc:
        for issue in exc.issues:
            print(issue, file=sys.stderr)
        return 2


def _find(given: str | None) -> DeployDir:
    path = given or os.environ.get("FRONTDESK_DEPLOY") or os.getcwd()
    d = DeployDir.at(path)
    if not d.is_deploy_dir():
        raise DeployError(
            f"{d.root} is not a deploy directory (no {SETTINGS_NAME}); "
            "give it with -d DIR or $FRONTDESK_DEPLOY"
        )
    return d


def init(path: str, listen: str, branch: str, keep: int) -> int:
    d = DeployDir.at(path)
    if d.root.exists() and not d.root.is_dir():
        raise DeployError(f"{d.root} exists and is not a directory")
    again = d.is_deploy_dir()
    if not again and d.root.exists() and any(d.root.iterdir()):
        raise DeployError(
            f"{d.root} is not empty and not a frontdesk deploy directory: refusing to touch it"
        )
    if not again:
        d.root.mkdir(parents=True, exist_ok=True)
        git = ["git", "init", "--quiet", "--bare", f"--initial-branch={branch}", str(d.root)]
        done = subprocess.run(git, capture_output=True, text=True)
        if done.returncode != 0:
            raise DeployError(f"git init failed: {done.stderr.strip()}")
        text = _SETTINGS.format(root=d.root, branch=branch, listen=listen, keep=keep)
        d.settings_file.write_text(text)
        d.settings()  # the values given on the command line are valid, or say why
        d.releases.mkdir(exist_ok=True)
        d.venvs.mkdir(exist_ok=True)
    settings = d.settings()
    hook = _HOOK.format(python=shlex.quote(sys.executable), root=shlex.quote(str(d.root)))
    d.hook_file.write_text(hook)
    os.chmod(d.hook_file, 0o755)
    user, host = getpass.getuser(), socket.getfqdn()
    print(
        f"{'already a' if again else 'made the'} deploy directory {d.root}"
        + (" (hook refreshed)" if again else "")
    )
    print()
    print("On your machine, add it as a git remote and push:")
    print(f"    git remote add live ssh://{user}@{host}{d.root}")
    print(f"    git push live {settings.branch}")
    print(f"(on this machine itself: git remote add live {d.root})")
    print()
    print("Here, run the server that the pushes deploy to (docs/deploy.md has a systemd unit):")
    print(f"    frontdesk serve --deploy {shlex.quote(str(d.root))}")
    return 0


def list_releases(d: DeployDir) -> int:
    log = ReleaseLog.read(d)
    live = d.live_id()
    state = states(log.releases, log.history, live)
    rows = [("RELEASE", "SHA", "STATE", "TIME (UTC)", "SUBJECT")]
    for r in sorted(log.releases, key=lambda r: (r.time, r.id), reverse=True):
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(r.time))
        subject = r.subject if len(r.subject) <= 50 else r.subject[:49] + "…"
        rows.append((r.id, r.sha[:7], state[r.id], when, subject))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=False)) + "  " + row[4])
    for r in log.releases:
        if state[r.id] == "failed" and r.reason:
            reason = r.reason if len(r.reason) <= 300 else r.reason[:299] + "…"
            print(f"{r.id} failed: {reason}")
    return 0


def rollback(d: DeployDir, target: str | None) -> int:
    settings = d.settings()
    out = Output()
    with DeployLock(d, "rollback", settings.lock_timeout) as lock:
        lock.acquire(out.step)
        log = ReleaseLog.read(d)
        live = d.live_id()
        rid = target or rollback_target(log.history, live)
        if rid is None:
            raise DeployError("there is no earlier release to roll back to")
        release = log.get(rid)
        if release is None or not d.release_dir(rid).is_dir():
            raise DeployError(f"no kept release {rid!r} (see `frontdesk releases`)")
        if rid == live:
            out.step(f"release {rid} is already live: nothing to do")
            return 0
        if not release.ok:
            raise DeployError(f"release {rid} never went live ({release.reason}); pick another")
        started = time.monotonic()
        out.step(f"Rolling back from {live} to {rid} ({release.sha[:7]} {release.subject})")
        try:
            apply_release(d, settings, release, out, build=False)
        except (DeployError, ConfigError, OSError) as exc:
            out.error(str(exc))
            out.error(f"rollback failed: release {live} is still live")
            return 1
        log.went_live(rid)
        log.write(d)
        out.step(f"Rolled back to {rid} in {time.monotonic() - started:.1f}s")
    return 0


def change_vars(d: DeployDir, values: dict[str, str], remove: list[str] | tuple[()]) -> int:
    settings = d.settings()
    out = Output()
    with DeployLock(d, "config change", settings.lock_timeout) as lock:
        lock.acquire(out.step)
        before = read_vars(d)
        after = {k: v for k, v in {**before, **values}.items() if k not in remove}
        if after == before:
            out.step("config vars unchanged: nothing to do")
            return 0
        write_vars(d, after)
        changed = sorted({*values, *remove})
        out.step(f"config vars {', '.join(changed)} stored")
        live = d.live_id()
        release = ReleaseLog.read(d).get(live) if live else None
        if release is None:
            out.detail("nothing is deployed yet: the next push uses them")
            return 0
        out.step(f"Restarting release {live} with the new config vars")
        try:
            apply_release(d, settings, release, out, build=False)
        except (DeployError, ConfigError, OSError) as exc:
            write_vars(d, before)  # what is stored stays what is served
            out.error(str(exc))
            out.error(f"config vars not changed: release {live} keeps its old ones")
            return 1
        out.step("Restarted")
    return 0

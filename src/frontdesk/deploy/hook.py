"""A push, deployed: the repository's pre-receive hook runs `frontdesk deploy hook DIR`.

It runs before git moves the branch, so a deploy that fails rejects the push (git
prints "pre-receive hook declined" and exits non-zero) and the branch keeps pointing
at what is live; a post-receive hook could not do that, git ignores its status.
The steps, each printed as it happens:

1. refuse any ref but the deploy branch, and a push of the sha already live (no-op);
2. take the deploy lock (a second push waits, then re-checks that the branch did not
   move meanwhile);
3. check the commit out into ``releases/<time>-<short sha>``;
4. validate the app's frontdesk.toml and Procfile (file:line errors; nothing changes);
5. the virtualenv: reused when the dependencies did not change, else built;
6. the generated config, validated as a whole;
7. the Procfile's ``release:`` command;
8. the switch: the server starts the new instances, moves traffic once they pass their
   checks, drains and stops the old ones; or keeps the old release and says why;
9. prune releases beyond `keep` (never the live or the previous one).
"""

from __future__ import annotations

import os
import shutil
import signal
import time
from collections.abc import Iterable

from frontdesk.errors import ConfigError

from .build import (
    build_venv,
    checkout,
    commit_subject,
    default_python,
    find_dependencies,
    run_streamed,
)
from .configvars import read_vars
from .generate import app_environment, check_app_config, read_procfile, served_config, write_served
from .layout import DeployDir, DeployError, DeploySettings
from .lock import DeployLock
from .output import Output
from .releases import ZERO_SHA, Release, ReleaseLog, release_id, to_prune
from .switch import serving_url, switch

__all__ = ["run_hook", "prune", "apply_release"]


def run_hook(d: DeployDir, updates: Iterable[str], out: Output) -> int:
    """Deploy the pushed branch; the hook's exit status (non-zero rejects the push)."""
    # A client that goes away (Ctrl-C, SSH dropped) must not stop a deploy half-way.
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        settings = d.settings()
    except ConfigError as exc:
        for issue in exc.issues:
            out.error(str(issue))
        return 1
    branch_ref = f"refs/heads/{settings.branch}"
    pushed = [line.split() for line in updates if line.strip()]
    # Tags go along (`git push --follow-tags`) and deploy nothing; other branches are
    # refused, so that nobody believes they deployed one.
    pushed = [p for p in pushed if not p[2].startswith("refs/tags/")]
    others = [ref for _, _, ref in pushed if ref != branch_ref]
    if others:
        out.error(
            f"this repository deploys the {settings.branch} branch only; refused: "
            + ", ".join(others)
        )
        out.error(
            f"push your branch as {settings.branch}: git push <remote> HEAD:{settings.branch}"
        )
        return 1
    if not pushed:
        return 0
    old, new, _ = pushed[0]
    if new == ZERO_SHA:
        out.error(f"deleting {settings.branch} is refused: it is what gets deployed")
        return 1
    try:
        with DeployLock(d, f"push of {new[:7]}", settings.lock_timeout) as lock:
            lock.acquire(out.step)
            return _deploy(d, settings, branch_ref, old, new, out)
    except DeployError as exc:
        out.error(str(exc))
        return 1


def _deploy(
    d: DeployDir, settings: DeploySettings, ref: str, old: str, new: str, out: Output
) -> int:
    log = ReleaseLog.read(d)
    accepted = log.accepted.get(ref)
    if accepted is not None and accepted != old:
        out.error(
            f"{settings.branch} moved to {accepted[:7]} while this push waited for another "
            "deploy; fetch, merge and push again"
        )
        return 1
    live = d.live_id()
    live_release = log.get(live) if live else None
    if live_release is not None and live_release.sha == new:
        out.step(f"{new[:7]} is already live (release {live}): nothing to do")
        log.accepted[ref] = new
        log.write(d)
        return 0
    started = time.monotonic()
    when = time.time()
    rid = release_id(new, when, {r.id for r in log.releases})
    subject = commit_subject(d.root, new)
    out.step(f'Deploying {new[:7]} "{subject}" as release {rid}')
    release = Release(rid, new, subject, when)
    log.releases.append(release)
    log.write(d)
    try:
        checkout(d.root, new, d.release_dir(rid))
        apply_release(d, settings, release, out, build=True)
    except (DeployError, ConfigError, OSError) as exc:
        _failed(d, log, release, exc, out)
        prune(d, log, settings.keep)
        return 1
    # Served now, or `current` points at it for the server to serve when it starts.
    log.went_live(rid)
    log.accepted[ref] = new
    log.write(d)
    prune(d, log, settings.keep)
    out.step(f"Released {rid} in {time.monotonic() - started:.1f}s: {serving_url(d, settings)}")
    return 0


def apply_release(
    d: DeployDir, settings: DeploySettings, release: Release, out: Output, build: bool
) -> bool:
    """Validate, build (when `build`), generate the config and switch to `release`.
    True when the server now serves it, False when no server runs (it will at start).
    Raises DeployError or ConfigError, with the old release still serving."""
    tree = d.release_dir(release.id)
    if build:
        out.step("Validating frontdesk.toml and Procfile")
    check_app_config(tree)
    procfile = read_procfile(tree)
    if build:
        deps = find_dependencies(tree)
        python = settings.python or default_python()
        what = f"{deps.source} ({len(deps.requirements)} lines)" if deps.source else "none"
        key = deps.key(python)
        if (d.venvs / key / ".frontdesk-complete").is_file():
            out.step(f"Dependencies unchanged ({what}): reusing virtualenv {key}")
        else:
            out.step(f"Building virtualenv {key} (dependencies: {what})")
        release.venv, _ = build_venv(d, deps, python, tree, out, clean_environ())
    config_vars = read_vars(d)
    data, notes = served_config(d, release.id, settings, release.venv, config_vars)
    for note in notes:
        out.detail(note)
    write_served(d, release.id, data)
    if build and procfile.release:
        out.step(f"Running the release command: {procfile.release}")
        env = {**clean_environ(), **app_environment(d, release.id, release.venv, config_vars)}
        code = run_streamed(
            ["sh", "-c", procfile.release], tree, env, out, settings.release_timeout
        )
        if code == -1:
            raise DeployError(
                f"the release command ran longer than {settings.release_timeout:.0f}s"
            )
        if code != 0:
            raise DeployError(f"the release command failed (exit status {code})")
    out.step("Starting the new instances; traffic moves once they pass their checks")
    return switch(d, release.id, out, settings.switch_timeout)


def clean_environ() -> dict[str, str]:
    """The hook's environment without what git set for it (GIT_DIR, the quarantine's
    object directories: a release command running git would see this repository) and
    without PORT (the instances get their own)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("GIT_") and k != "PORT"}


def _failed(d: DeployDir, log: ReleaseLog, release: Release, exc: Exception, out: Output) -> None:
    if isinstance(exc, ConfigError):
        for issue in exc.issues:
            out.error(str(issue))
        reason = f"{len(exc.issues)} error(s) in the config, first: {exc.issues[0]}"
    else:
        reason = str(exc)
        out.error(reason)
    live = d.live_id()
    still = f"release {live} is still live" if live else "nothing is live yet"
    out.error(f"deploy of {release.sha[:7]} failed: {still}")
    release.reason = reason
    log.write(d)


def prune(d: DeployDir, log: ReleaseLog, keep: int) -> None:
    """Remove releases beyond `keep` and the virtualenvs no kept release uses."""
    from .releases import rollback_target

    live = d.live_id()
    protected = {r for r in (live, rollback_target(log.history, live)) if r}
    for r in to_prune(log.releases, keep, protected):
        shutil.rmtree(d.release_dir(r.id), ignore_errors=True)
        log.releases.remove(r)
    log.write(d)
    used = {r.venv for r in log.releases if r.venv}
    if d.venvs.is_dir():
        for entry in os.listdir(d.venvs):
            if entry not in used:
                shutil.rmtree(d.venvs / entry, ignore_errors=True)

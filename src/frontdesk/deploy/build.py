"""Build a release: check the commit out, make its virtualenv, run its release command.

Virtualenvs are shared by key: the interpreter plus the app's dependency list
(``requirements.txt``, or the ``[project] dependencies`` of its ``pyproject.toml``).
A push that changes only code finds the key it needs already built and skips the
whole install; a venv is only ever built in place (venvs are not relocatable) and
marked complete at the end, so a half-built one is rebuilt, never used.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import time
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from .layout import DeployDir, DeployError
from .output import Output

__all__ = ["Dependencies", "checkout", "find_dependencies", "build_venv", "run_streamed"]

_COMPLETE = ".frontdesk-complete"


def checkout(git_dir: Path, sha: str, dest: Path) -> None:
    """Write the tree of commit `sha` into `dest` (which must not exist yet)."""
    dest.mkdir(parents=True)
    proc = subprocess.Popen(
        ["git", f"--git-dir={git_dir}", "archive", "--format=tar", sha],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None
    try:
        with tarfile.open(fileobj=proc.stdout, mode="r|") as tar:
            # "data": no absolute paths, no links leaving the tree, no device files.
            tar.extractall(dest, filter="data")
    except (tarfile.TarError, OSError) as exc:
        proc.kill()
        proc.wait()
        raise DeployError(f"checkout of {sha[:7]} failed: {exc}") from None
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    if proc.wait() != 0:
        raise DeployError(f"git archive {sha[:7]} failed: {err.strip()}")


def commit_subject(git_dir: Path, sha: str) -> str:
    out = subprocess.run(
        ["git", f"--git-dir={git_dir}", "log", "-1", "--format=%s", sha],
        capture_output=True,
        text=True,
    )
    return out.stdout.strip()


@dataclass(frozen=True)
class Dependencies:
    """What the release's virtualenv must hold."""

    source: str  # "requirements.txt", "pyproject.toml" or "" (none)
    requirements: tuple[str, ...]  # pip arguments: ("-r", "requirements.txt") or specs

    def key(self, python: str) -> str:
        """The venv's name: the same for the same interpreter and dependency list."""
        h = hashlib.sha256()
        h.update(os.path.realpath(python).encode())
        h.update(_python_version(python).encode())
        h.update(self.source.encode() + b"\0")
        h.update("\0".join(self.requirements).encode())
        return h.hexdigest()[:16]


def find_dependencies(tree: Path) -> Dependencies:
    """requirements.txt (as Heroku, it wins), else pyproject.toml's dependencies."""
    req = tree / "requirements.txt"
    if req.is_file():
        # Keyed by content: a changed requirements file is a new venv. Relative paths
        # inside it (a vendored wheel) are resolved from the release directory.
        # Comments and blank lines change nothing to install: not part of the key.
        lines = req.read_text("utf-8", errors="replace").splitlines()
        wanted = [ln.strip() for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]
        return Dependencies("requirements.txt", tuple(wanted))
    pyproject = tree / "pyproject.toml"
    if pyproject.is_file():
        try:
            data = tomllib.loads(pyproject.read_text("utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise DeployError(f"pyproject.toml: {exc}") from None
        deps = data.get("project", {}).get("dependencies", [])
        if not isinstance(deps, list) or not all(isinstance(d, str) for d in deps):
            raise DeployError("pyproject.toml: [project] dependencies must be a list of strings")
        return Dependencies("pyproject.toml", tuple(deps))
    return Dependencies("", ())


_versions: dict[str, str] = {}


def _python_version(python: str) -> str:
    if python not in _versions:
        out = subprocess.run(
            [python, "-c", "import sys; print(sys.version)"], capture_output=True, text=True
        )
        _versions[python] = out.stdout.strip()
    return _versions[python]


def default_python() -> str:
    # Inside a virtualenv, sys.executable is that venv's python; `-m venv` from it makes
    # a venv on the base interpreter anyway, so either is fine to use.
    return sys.executable


def build_venv(
    d: DeployDir,
    deps: Dependencies,
    python: str,
    tree: Path,
    out: Output,
    environ: Mapping[str, str],
) -> tuple[str, bool]:
    """The key of a complete venv for `deps`, and whether it was built now (False:
    reused). Raises DeployError when the install fails; the pip output is in `out`."""
    key = deps.key(python)
    venv = d.venvs / key
    if (venv / _COMPLETE).is_file():
        return key, False
    if venv.exists():
        shutil.rmtree(venv)  # a build that was interrupted
    d.venvs.mkdir(exist_ok=True)
    # With nothing to install, a venv without pip is made in a fraction of a second;
    # it still gives the app `python` on its PATH and an environment of its own.
    make = [python, "-m", "venv", str(venv)]
    if not deps.requirements:
        make.insert(3, "--without-pip")
    if run_streamed(make, tree, environ, out) != 0:
        raise DeployError("could not make the virtualenv")
    if deps.requirements:
        pip = [str(venv / "bin" / "python"), "-m", "pip", "install"]
        pip += ["--disable-pip-version-check", "--progress-bar", "off", "--no-input"]
        if deps.source == "requirements.txt":
            pip += ["-r", "requirements.txt"]
        else:
            pip += list(deps.requirements)
        if run_streamed(pip, tree, environ, out) != 0:
            shutil.rmtree(venv, ignore_errors=True)
            raise DeployError(f"installing the dependencies from {deps.source} failed")
    (venv / _COMPLETE).write_text(f"{time.time()}\n")
    return key, True


def run_streamed(
    argv: list[str],
    cwd: Path,
    env: Mapping[str, str],
    out: Output,
    timeout: float | None = None,
) -> int:
    """Run `argv`, each line of its output (stdout and stderr) to `out` as it comes;
    its exit status, or -1 if it ran longer than `timeout` (then it is killed)."""
    deadline = None if timeout is None else time.monotonic() + timeout
    try:
        proc = subprocess.Popen(
            argv,
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its children go with it when killed
        )
    except OSError as exc:
        out.error(f"cannot run {argv[0]}: {exc.strerror}")
        return 127
    assert proc.stdout is not None
    killer = None
    if deadline is not None:
        import threading

        def _kill() -> None:
            try:
                os.killpg(proc.pid, 9)
            except OSError:
                pass

        killer = threading.Timer(max(0.0, deadline - time.monotonic()), _kill)
        killer.daemon = True
        killer.start()
    for raw in proc.stdout:
        out.detail(raw.decode("utf-8", errors="replace").rstrip("\r\n"))
    code = proc.wait()
    if killer is not None:
        killer.cancel()
        if deadline is not None and time.monotonic() >= deadline and code != 0:
            return -1
    return code

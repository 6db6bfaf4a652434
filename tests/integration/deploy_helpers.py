"""Helpers for the git-push deploy tests: a deploy directory made by `frontdesk deploy
init`, the server `frontdesk serve --deploy DIR` as a subprocess, a working repository
pushed over a path remote with real git, and keep-alive load clients that count every
answer.
"""

from __future__ import annotations

import http.client
import os
import shutil
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from proc_helpers import Server, start_server

GIT_ENV = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.invalid",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.invalid",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
}
EXAMPLE = Path(__file__).parents[2] / "examples" / "git-push"


def frontdesk(*args: str, cwd: Path | None = None, timeout: float = 120) -> tuple[int, str]:
    """Run the CLI; (exit status, stdout + stderr)."""
    done = subprocess.run(
        [sys.executable, "-m", "frontdesk", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=timeout,
        env={k: v for k, v in os.environ.items() if k != "PORT"},
    )
    return done.returncode, done.stdout + done.stderr


def git(repo: Path, *args: str, timeout: float = 180) -> tuple[int, str]:
    done = subprocess.run(
        ["git", *args],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**{k: v for k, v in os.environ.items() if k != "PORT"}, **GIT_ENV},
    )
    return done.returncode, done.stdout + done.stderr


@dataclass
class Repo:
    """A working repository with the deploy directory as its `live` remote."""

    path: Path

    @classmethod
    def make(cls, path: Path, remote: Path, files: Path | None = None) -> Repo:
        if files is not None:
            shutil.copytree(files, path)
        else:
            path.mkdir()
        repo = cls(path)
        repo.git("init", "-q", "-b", "main")
        repo.git("remote", "add", "live", str(remote))
        return repo

    def git(self, *args: str) -> str:
        code, out = git(self.path, *args)
        assert code == 0, f"git {' '.join(args)}: {out}"
        return out

    def write(self, name: str, text: str) -> None:
        (self.path / name).parent.mkdir(parents=True, exist_ok=True)
        (self.path / name).write_text(text)

    def commit(self, message: str) -> str:
        self.git("add", "-A")
        self.git("commit", "-q", "--allow-empty", "-m", message)
        return self.git("rev-parse", "HEAD").strip()

    def push(self, *args: str) -> tuple[int, str, float]:
        """`git push live main`: (exit status, output, seconds)."""
        started = time.monotonic()
        code, out = git(self.path, "push", "live", *(args or ("main",)))
        return code, out, time.monotonic() - started


def deploy_site(tmp_path: Path, port: int, keep: int = 5) -> tuple[Path, Server]:
    """`frontdesk deploy init` + `frontdesk serve --deploy` on 127.0.0.1:`port`."""
    root = tmp_path / "srv"
    code, out = frontdesk(
        "deploy", "init", str(root), "--listen", f"127.0.0.1:{port}", "--keep", str(keep)
    )
    assert code == 0, out
    server = start_server(tmp_path, None, port, args=("--deploy", str(root), "--workers", "1"))
    return root, server


class Load:
    """Clients on kept-alive connections sending GET / the whole time; each answer is
    counted as (time it came, status, body); a failed request is an error."""

    def __init__(self, port: int, clients: int = 4) -> None:
        self.port = port
        self.answers: list[tuple[float, int, str]] = []
        self.errors: list[str] = []
        self.lock = threading.Lock()
        self.stop_event = threading.Event()
        self.threads = [threading.Thread(target=self._client) for _ in range(clients)]

    def _conn(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=20)

    def _client(self) -> None:
        conn = self._conn()
        while not self.stop_event.is_set():
            try:
                conn.request("GET", "/")
                resp = conn.getresponse()
                body = resp.read().decode(errors="replace")
                row = (time.monotonic(), resp.status, body)
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                conn = self._conn()
                with self.lock:
                    self.errors.append(f"{time.monotonic():.3f} {exc!r}")
                continue
            with self.lock:
                self.answers.append(row)
            if resp.status != 200:
                with self.lock:
                    self.errors.append(f"{resp.status} {body[:80]!r}")
        conn.close()

    def __enter__(self) -> Load:
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop_event.set()
        for t in self.threads:
            t.join(30)

    def versions(self, since: float = 0.0) -> Counter[str]:
        """How many 200 answers came from each version (the body's first word)."""
        with self.lock:
            return Counter(b.split()[0] for t, s, b in self.answers if s == 200 and t >= since)

    def count(self) -> int:
        with self.lock:
            return len(self.answers)


def wait_version(port: int, version: str, timeout: float = 20.0) -> float:
    """Poll GET / until it answers `version`; the monotonic time it first did."""
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        try:
            conn.request("GET", "/")
            resp = conn.getresponse()
            last = resp.read().decode(errors="replace")
            if resp.status == 200 and last.split()[:1] == [version]:
                return time.monotonic()
        except (OSError, http.client.HTTPException) as exc:
            last = repr(exc)
        finally:
            conn.close()
        time.sleep(0.02)
    raise AssertionError(f"{version} not served within {timeout}s; last answer {last!r}")

"""`git push` deploys with real git over a path remote, for a site without app
processes (`respond` routes): the deploy's own machinery, end to end. The app
processes' side (instances started, checked, traffic moved under load) is in
test_deploy_app.py.
"""

from __future__ import annotations

import json
import os
import re
import threading
from pathlib import Path

import pytest
from deploy_helpers import Repo, deploy_site, frontdesk, git
from proc_helpers import free_port

pytestmark = pytest.mark.slow


def site_config(body: str) -> str:
    server = '[server]\nworkers = 1\naccess_log = "off"\n'
    return server + f'\n[[route]]\nrespond = {{ body = "{body}\\n" }}\n'


def release_states(out: str) -> dict[str, str]:
    """`frontdesk releases` rows: release id → state."""
    rows = [line.split() for line in out.splitlines()[1:] if " failed:" not in line]
    return {row[0]: row[2] for row in rows if row and row[0][:1].isdigit()}


def released_id(output: str) -> str:
    m = re.search(r"Released (\S+) in [0-9.]+s: (\S+)", output)
    assert m is not None, output
    return m.group(1)


def test_init_refuses_a_foreign_directory_and_says_what_to_do(tmp_path: Path) -> None:
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "data.txt").write_text("mine")
    code, out = frontdesk("deploy", "init", str(foreign))
    assert code == 1 and "not empty and not a frontdesk deploy directory" in out
    assert sorted(os.listdir(foreign)) == ["data.txt"]
    root = tmp_path / "srv"
    code, out = frontdesk("deploy", "init", str(root))
    assert code == 0, out
    assert "git remote add live ssh://" in out and f"{root}" in out
    assert f"frontdesk serve --deploy {root}" in out
    assert os.access(root / "hooks" / "pre-receive", os.X_OK)
    assert git(root, "rev-parse", "--is-bare-repository")[1].strip() == "true"
    code, out = frontdesk("deploy", "init", str(root))  # again: harmless
    assert code == 0 and "already a deploy directory" in out


def test_push_validate_refuse_noop_rollback_and_releases(tmp_path: Path) -> None:
    port = free_port()
    root, server = deploy_site(tmp_path, port)
    try:
        assert server.get()[0] == 503  # nothing deployed yet
        repo = Repo.make(tmp_path / "app", root)
        repo.write("frontdesk.toml", site_config("v1"))
        v1 = repo.commit("first version")
        code, out, _ = repo.push()
        assert code == 0, out
        id1 = released_id(out)
        assert f"http://127.0.0.1:{port}/" in out
        assert server.get() == (200, b"v1\n")

        repo.write("frontdesk.toml", site_config("v2"))
        v2 = repo.commit("second version")
        code, out, _ = repo.push()
        assert code == 0, out
        id2 = released_id(out)
        assert server.get() == (200, b"v2\n")

        # A bad frontdesk.toml: refused with file and line, nothing changes.
        repo.write("frontdesk.toml", '[server]\nworkers = 1\nlisn = ":1"\n')
        bad = repo.commit("typo in the config")
        code, out, _ = repo.push()
        assert code != 0
        assert "frontdesk.toml:3: server.lisn: unknown key 'lisn'" in out
        assert f"release {id2} is still live" in out and "pre-receive hook declined" in out
        assert server.get() == (200, b"v2\n")
        assert git(root, "rev-parse", "main")[1].strip() == v2  # the branch did not move

        # Other branches are refused with a message.
        code, out, _ = repo.push("HEAD:feature")
        assert code != 0 and "deploys the main branch only" in out

        code, out = frontdesk("releases", "-d", str(root))
        assert code == 0, out
        rows = {
            line.split()[0]: line.split()[2]
            for line in out.splitlines()[1:]
            if line[:1].isdigit() and " failed:" not in line
        }
        assert rows[id2] == "live" and rows[id1] == "previous"
        assert "failed" in rows.values() and "typo in the config" in out
        assert f"{v2[:7]}" in out and "second version" in out

        code, out = frontdesk("rollback", "-d", str(root))
        assert code == 0, out
        assert f"Rolled back to {id1}" in out
        assert server.get() == (200, b"v1\n")
        code, out = frontdesk("releases", "-d", str(root))
        rows = {
            line.split()[0]: line.split()[2]
            for line in out.splitlines()[1:]
            if line[:1].isdigit() and " failed:" not in line
        }
        assert rows[id1] == "live" and rows[id2] == "previous"

        # A push of the sha that is live is a no-op (here: v1, force-pushed back).
        repo.git("reset", "-q", "--hard", v1)
        code, out, _ = repo.push("--force", "main")
        assert code == 0, out
        assert "is already live" in out and "Deploying" not in out
        assert bad and server.get() == (200, b"v1\n")

        code, out = frontdesk("rollback", "nonexistent", "-d", str(root))
        assert code == 1 and "no kept release" in out
    finally:
        server.terminate()


def test_concurrent_pushes_are_serialised(tmp_path: Path) -> None:
    port = free_port()
    root, server = deploy_site(tmp_path, port)
    try:
        base = Repo.make(tmp_path / "base", root)
        base.write("frontdesk.toml", site_config("v1"))
        base.commit("v1")
        assert base.push()[0] == 0
        repos = []
        for name in ("a", "b"):
            code, out = git(tmp_path, "clone", "-q", "-o", "live", str(root), name)
            assert code == 0, out
            repo = Repo(tmp_path / name)
            repo.write("frontdesk.toml", site_config(name))
            # The release command takes a while: the two pushes surely overlap.
            repo.write("Procfile", "release: sleep 1.5; echo migrated " + name + "\n")
            repo.commit(f"version {name}")
            repos.append(repo)
        results: dict[str, tuple[int, str, float]] = {}
        threads = [
            threading.Thread(target=lambda r=r: results.__setitem__(r.path.name, r.push()))
            for r in repos
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        won = [n for n, (code, _, _) in results.items() if code == 0]
        lost = [n for n, (code, _, _) in results.items() if code != 0]
        assert len(won) == 1 and len(lost) == 1, results
        winner, loser = won[0], lost[0]
        out = results[loser][1]
        assert "waiting for another deploy to finish" in out
        assert "moved to" in out and "while this push waited" in out
        # Never interleaved: the loser's output has nothing of the winner's deploy.
        assert f"migrated {winner}" not in out and f"migrated {winner}" in results[winner][1]
        assert server.get() == (200, f"{winner}\n".encode())
    finally:
        server.terminate()


def test_failed_release_command_and_install_keep_the_old_release(tmp_path: Path) -> None:
    port = free_port()
    root, server = deploy_site(tmp_path, port, keep=2)
    try:
        repo = Repo.make(tmp_path / "app", root)
        repo.write("frontdesk.toml", site_config("v1"))
        repo.commit("v1")
        code, out, _ = repo.push()
        assert code == 0, out
        id1 = released_id(out)

        repo.write("frontdesk.toml", site_config("v2"))
        repo.write("Procfile", "release: echo 'migration 7 failed' >&2; exit 3\n")
        repo.commit("v2 with a failing migration")
        code, out, _ = repo.push()
        assert code != 0
        assert "migration 7 failed" in out
        assert "the release command failed (exit status 3)" in out
        assert f"release {id1} is still live" in out
        assert server.get() == (200, b"v1\n")

        repo.write("Procfile", "release: true\n")
        repo.write("requirements.txt", "./no-such-package-dir\n")
        repo.commit("v2 with a missing dependency")
        code, out, _ = repo.push()
        assert code != 0
        assert "installing the dependencies from requirements.txt failed" in out
        assert server.get() == (200, b"v1\n")

        # keep = 2: the failed releases go first; the live one stays.
        for n in (3, 4):
            (repo.path / "requirements.txt").unlink(missing_ok=True)
            repo.write("frontdesk.toml", site_config(f"v{n}"))
            repo.commit(f"v{n}")
            code, out, _ = repo.push()
            assert code == 0, out
        kept = sorted(os.listdir(root / "releases"))
        assert len(kept) == 2 and id1 not in kept
        state = json.loads((root / "releases.json").read_text())
        assert sorted(r["id"] for r in state["releases"]) == kept
        assert len(os.listdir(root / "venvs")) == 1  # the failed build left nothing behind
    finally:
        server.terminate()


def test_config_vars_are_stored_outside_the_repository(tmp_path: Path) -> None:
    port = free_port()
    root, server = deploy_site(tmp_path, port)
    try:
        code, out = frontdesk("config:set", "SECRET_KEY=s3cr=t", "-d", str(root))
        assert code == 0 and "nothing is deployed yet" in out
        repo = Repo.make(tmp_path / "app", root)
        repo.write("frontdesk.toml", site_config("v1"))
        repo.commit("v1")
        code, out, _ = repo.push()
        assert code == 0, out
        rid = released_id(out)
        code, out = frontdesk("config:set", "GREETING=hello", "-d", str(root))
        assert code == 0 and "Restarting release" in out, out
        code, out = frontdesk("config", "-d", str(root))
        assert out.splitlines() == ["GREETING=hello", "SECRET_KEY=s3cr=t"]
        env = root / "env.json"
        assert json.loads(env.read_text()) == {"GREETING": "hello", "SECRET_KEY": "s3cr=t"}
        assert env.stat().st_mode & 0o777 == 0o600
        assert "s3cr=t" not in git(repo.path, "log", "-p")[1]
        assert not (root / "releases" / rid / "env.json").exists()
        code, out = frontdesk("config:set", "PORT=80", "-d", str(root))
        assert code == 1 and "PORT is set by frontdesk" in out
        code, out = frontdesk("config:unset", "GREETING", "-d", str(root))
        assert code == 0
        assert json.loads(env.read_text()) == {"SECRET_KEY": "s3cr=t"}
        assert server.get() == (200, b"v1\n")
    finally:
        server.terminate()

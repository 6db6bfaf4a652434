"""`git push` deploys of an app with its own processes (examples/git-push), under load.

One story, in order, on one deploy directory: v1 (with a dependency installed from a
vendored wheel) serving; v2, a code-only push under 4 keep-alive clients: 0 failed
requests, then only v2, and the time from the end of the push to v2 answering; a
broken v3 (import error at start): the push fails and says why, v2 answers
throughout; `frontdesk rollback` to v1 under load: 0 failed; `frontdesk config:set`
under load: a rolling restart with the new value, 0 failed.
"""

from __future__ import annotations

import base64
import hashlib
import re
import time
import zipfile
from pathlib import Path

import pytest
from deploy_helpers import EXAMPLE, Load, Repo, deploy_site, frontdesk, wait_version
from proc_helpers import free_port

pytestmark = pytest.mark.slow

WHEEL = "fd_hello-1.0-py3-none-any.whl"


def make_wheel(path: Path) -> None:
    """A minimal pure-Python wheel (PEP 427): pip installs it with no index, offline."""
    files = {
        "fd_hello.py": b'GREETING = "hello from a dependency"\n',
        "fd_hello-1.0.dist-info/METADATA": b"Metadata-Version: 2.1\nName: fd-hello\nVersion: 1.0\n",
        "fd_hello-1.0.dist-info/WHEEL": (
            b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
    }
    record = []
    for name, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{name},sha256={digest},{len(data)}")
    record.append("fd_hello-1.0.dist-info/RECORD,,")
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as z:
        for name, data in files.items():
            z.writestr(name, data)
        z.writestr("fd_hello-1.0.dist-info/RECORD", "\n".join(record) + "\n")


def set_version(repo: Repo, old: str, new: str, broken: bool = False) -> None:
    app = repo.path / "app.py"
    text = app.read_text().replace(f'VERSION = "{old}"', f'VERSION = "{new}"')
    if broken:
        text = text.replace("import os\n", "import os\nimport no_such_module  # noqa\n", 1)
    app.write_text(text)


def released_id(output: str) -> str:
    m = re.search(r"Released (\S+) in", output)
    assert m is not None, output
    return m.group(1)


def test_push_v2_under_load_broken_v3_rollback_and_config(tmp_path: Path) -> None:
    port = free_port()
    root, server = deploy_site(tmp_path, port)
    try:
        repo = Repo.make(tmp_path / "app", root, EXAMPLE)
        make_wheel(repo.path / "vendor" / WHEEL)
        repo.write("requirements.txt", f"./vendor/{WHEEL}\n")
        repo.commit("v1")
        code, out, _ = repo.push()
        assert code == 0, out
        id1 = released_id(out)
        assert "Building virtualenv" in out and "fd-hello-1.0" in out
        assert "migrations applied" in out
        wait_version(port, "v1", timeout=5)
        venvs = list((root / "venvs").iterdir())
        assert len(venvs) == 1
        assert list(venvs[0].glob("lib/python*/site-packages/fd_hello.py"))

        # v2, code only, under load: 0 failed requests, then only v2.
        set_version(repo, "v1", "v2")
        repo.commit("v2")
        with Load(port) as load:
            time.sleep(0.5)
            code, out, took = repo.push()
            ended = time.monotonic()
            answering = wait_version(port, "v2", timeout=10) - ended
            time.sleep(1.0)
        assert code == 0, out
        id2 = released_id(out)
        assert "Dependencies unchanged" in out and "reusing virtualenv" in out
        print(
            f"\ncode-only push: git push took {took:.2f}s; v2 answered {answering:.2f}s "
            f"after it ended; {load.count()} requests under load, {len(load.errors)} failed"
        )
        assert load.errors == [], (ended, load.errors[:5], server.stderr()[-6000:])
        assert answering < 10.0
        assert set(load.versions(since=ended + 0.2)) == {"v2"}, load.versions(since=ended)
        assert load.versions()["v1"] > 0  # the load did run across the switch

        # A broken v3: the push fails and says why; v2 answers throughout.
        set_version(repo, "v2", "v3", broken=True)
        repo.commit("v3 with an import error")
        with Load(port) as load:
            time.sleep(0.3)
            code, out, _ = repo.push()
            time.sleep(0.5)
        assert code != 0
        assert "No module named 'no_such_module'" in out
        assert f"release {id2} is still live" in out
        assert load.errors == [], load.errors[:5]
        assert set(load.versions()) == {"v2"} and load.count() > 0

        # Roll back to v1 under load: 0 failed, then only v1.
        with Load(port) as load:
            time.sleep(0.3)
            code, out = frontdesk("rollback", id1, "-d", str(root))
            ended = time.monotonic()
            time.sleep(1.0)
        assert code == 0, out
        assert load.errors == [], load.errors[:5]
        assert set(load.versions(since=ended + 0.2)) == {"v1"}
        code, out = frontdesk("releases", "-d", str(root))
        states = {line.split()[0]: line.split()[2] for line in out.splitlines()[1:4]}
        assert states[id1] == "live" and states[id2] == "previous", out
        assert "failed" in states.values()

        # A config var: stored, then a rolling restart of the live release, 0 failed.
        with Load(port) as load:
            time.sleep(0.3)
            code, out = frontdesk("config:set", "GREETING=bonjour", "-d", str(root))
            ended = time.monotonic()
            time.sleep(0.5)
        assert code == 0, out
        assert load.errors == [], load.errors[:5]
        bodies = {b for t, _, b in load.answers if t > ended + 0.2}
        assert bodies and all("greeting=bonjour" in b and b.startswith("v1") for b in bodies)
    finally:
        server.terminate()


def test_procfile_web_without_frontdesk_toml(tmp_path: Path) -> None:
    """A Heroku-style app: only a Procfile `web:` line, no frontdesk.toml. It becomes
    [app.web] (2 instances, each with its own $PORT) behind one proxy route."""
    port = free_port()
    root, server = deploy_site(tmp_path, port)
    try:
        repo = Repo.make(tmp_path / "app", root, EXAMPLE)
        (repo.path / "frontdesk.toml").unlink()
        repo.write("Procfile", "web: python app.py\nrelease: python migrate.py\n")
        repo.commit("procfile only")
        repo.git("tag", "v1")
        code, out, _ = repo.push("main", "--tags")  # the tag goes along, deploys nothing
        assert code == 0, out
        assert "Procfile web: python app.py (2 instances)" in out
        rid = released_id(out)
        wait_version(port, "v1", timeout=5)
        status, body = server.get()
        assert body.decode().startswith(f"v1 release={rid} ")
        assert f"migrated={rid}" in body.decode()
        generated = (root / "releases" / rid / ".frontdesk-deploy.toml").read_text()
        assert "[app.web]" in generated and 'pool = "web"' in generated
    finally:
        server.terminate()

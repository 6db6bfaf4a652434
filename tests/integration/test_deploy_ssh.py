"""`git push` over SSH, as users push: Debian's sshd (installed by ./dev) started by the
test on a free loopback port with throwaway host and client keys, and the deploy
directory reached as ssh://USER@127.0.0.1:PORT/DIR. The hook runs in the SSH session,
its output comes back in the push, and a refused push fails over SSH too.
"""

from __future__ import annotations

import getpass
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from deploy_helpers import Repo, deploy_site
from proc_helpers import free_port, port_open

pytestmark = pytest.mark.slow

SSHD = "/usr/sbin/sshd"


@pytest.fixture
def sshd(tmp_path: Path) -> Iterator[tuple[int, str]]:
    """A running sshd on 127.0.0.1; (port, GIT_SSH_COMMAND that reaches it)."""
    if not os.access(SSHD, os.X_OK):
        pytest.skip("openssh-server is not installed (./dev test installs it)")
    d = tmp_path / "ssh"
    d.mkdir()
    for key in ("host", "client"):
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(d / key)], check=True
        )
    authorized = d / "authorized_keys"
    authorized.write_bytes((d / "client.pub").read_bytes())
    authorized.chmod(0o600)
    port = free_port()
    (d / "sshd_config").write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {d / 'host'}\n"
        f"PidFile {d / 'sshd.pid'}\nAuthorizedKeysFile {authorized}\n"
        "PubkeyAuthentication yes\nPasswordAuthentication no\n"
        "KbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\n"
        f"PermitRootLogin prohibit-password\nAllowUsers {getpass.getuser()}\n"
    )
    if os.geteuid() == 0:
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # sshd's privilege separation
    log = open(d / "sshd.log", "wb")
    proc = subprocess.Popen(
        [SSHD, "-D", "-e", "-f", str(d / "sshd_config")], stdout=log, stderr=log
    )
    try:
        deadline = time.monotonic() + 10
        while not port_open(port):
            assert proc.poll() is None, (d / "sshd.log").read_text()
            assert time.monotonic() < deadline, "sshd did not listen"
            time.sleep(0.05)
        command = (
            f"ssh -p {port} -i {d / 'client'} -o IdentitiesOnly=yes -o BatchMode=yes "
            "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR"
        )
        yield port, command
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()


def test_push_over_ssh_deploys_and_refusals_come_back(
    tmp_path: Path, sshd: tuple[int, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    ssh_port, ssh_command = sshd
    monkeypatch.setenv("GIT_SSH_COMMAND", ssh_command)
    port = free_port()
    root, server = deploy_site(tmp_path, port)
    try:
        repo = Repo.make(tmp_path / "app", root)
        repo.git(
            "remote", "set-url", "live", f"ssh://{getpass.getuser()}@127.0.0.1:{ssh_port}{root}"
        )
        repo.write(
            "frontdesk.toml",
            '[server]\nworkers = 1\n\n[[route]]\nrespond = { body = "over ssh\\n" }\n',
        )
        repo.commit("v1 over ssh")
        code, out, _ = repo.push()
        assert code == 0, out
        assert "remote: -----> Released" in out and f"http://127.0.0.1:{port}/" in out
        assert server.get() == (200, b"over ssh\n")

        repo.write("frontdesk.toml", '[server]\nworkers = "many"\n')
        repo.commit("bad workers")
        code, out, _ = repo.push()
        assert code != 0
        assert "remote:  !     frontdesk.toml:2: server.workers:" in out
        assert "pre-receive hook declined" in out
        assert server.get() == (200, b"over ssh\n")
    finally:
        server.terminate()

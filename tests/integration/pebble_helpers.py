"""Debian's pebble (a test ACME server) and pebble-challtestsrv (its mock DNS, which
answers 127.0.0.1 for every name) on loopback, for the ACME tests."""

from __future__ import annotations

import json
import shutil
import ssl
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import trustme
from proc_helpers import free_port, port_open


@dataclass
class Pebble:
    directory: str  # the ACME directory URL
    ca_file: Path  # verifies the directory's HTTPS
    management: int  # port of pebble's management API (its roots)
    procs: list[subprocess.Popen[bytes]]

    def root_pem(self) -> bytes:
        """The root pebble signs certificates with (made anew at each start)."""
        context = ssl.create_default_context(cafile=str(self.ca_file))
        url = f"https://127.0.0.1:{self.management}/roots/0"
        with urllib.request.urlopen(url, context=context, timeout=10) as answer:
            return bytes(answer.read())

    def stop(self) -> None:
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


def available() -> bool:
    return shutil.which("pebble") is not None and shutil.which("pebble-challtestsrv") is not None


def start_pebble(workdir: Path, http_port: int) -> Pebble:
    """pebble validating HTTP-01 on `http_port` of 127.0.0.1 (where frontdesk listens)."""
    workdir.mkdir(parents=True, exist_ok=True)
    ca = trustme.CA()
    cert = ca.issue_cert("localhost", "127.0.0.1")
    cert.cert_chain_pems[0].write_to_path(str(workdir / "pebble.pem"))
    cert.private_key_pem.write_to_path(str(workdir / "pebble.key"))
    ca_file = workdir / "pebble-ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    listen, management, dns = free_port(), free_port(), free_port()
    config = {
        "pebble": {
            "listenAddress": f"127.0.0.1:{listen}",
            "managementListenAddress": f"127.0.0.1:{management}",
            "certificate": str(workdir / "pebble.pem"),
            "privateKey": str(workdir / "pebble.key"),
            "httpPort": http_port,
            "tlsPort": free_port(),
            "ocspResponderURL": "",
            "externalAccountBindingRequired": False,
        }
    }
    (workdir / "pebble.json").write_text(json.dumps(config))
    procs: list[subprocess.Popen[bytes]] = []
    with open(workdir / "challtestsrv.log", "wb") as log:
        procs.append(
            subprocess.Popen(
                # A records only (pebble would try ::1 first); no challenge servers of
                # its own: frontdesk answers the challenges.
                [
                    "pebble-challtestsrv",
                    "-defaultIPv6",
                    "",
                    "-dns01",
                    f"127.0.0.1:{dns}",
                    "-http01",
                    "",
                    "-https01",
                    "",
                    "-tlsalpn01",
                    "",
                    "-management",
                    f"127.0.0.1:{free_port()}",
                ],
                stdout=log,
                stderr=log,
                stdin=subprocess.DEVNULL,
            )
        )
    env = {"PEBBLE_VA_NOSLEEP": "1", "PEBBLE_WFE_NONCEREJECT": "0", "PATH": "/usr/bin:/bin"}
    with open(workdir / "pebble.log", "wb") as log:
        procs.append(
            subprocess.Popen(
                [
                    "pebble",
                    "-config",
                    str(workdir / "pebble.json"),
                    "-dnsserver",
                    f"127.0.0.1:{dns}",
                ],
                stdout=log,
                stderr=log,
                stdin=subprocess.DEVNULL,
                env=env,
                cwd=workdir,
            )
        )
    pebble = Pebble(f"https://127.0.0.1:{listen}/dir", ca_file, management, procs)
    deadline = time.monotonic() + 15
    while not (port_open(listen) and port_open(management)):
        if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
            pebble.stop()
            raise AssertionError("pebble did not start: " + (workdir / "pebble.log").read_text())
        time.sleep(0.05)
    return pebble

"""A TLS scan of the listener with Debian's testssl.sh: no protocol below TLS 1.2 and
no weak cipher category offered, with the default [tls] settings."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import trustme
from proc_helpers import free_port, start_server

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("testssl") is None, reason="testssl.sh not installed"),
]

NOT_OFFERED = (
    "SSLv2",
    "SSLv3",
    "TLS1",
    "TLS1_1",
    "cipherlist_NULL",
    "cipherlist_aNULL",
    "cipherlist_EXPORT",
    "cipherlist_LOW",
    "cipherlist_3DES_IDEA",
    "cipherlist_AVERAGE",  # obsolete CBC suites
)


def test_testssl_finds_nothing_weak(tmp_path: Path) -> None:
    cert = trustme.CA().issue_cert("localhost", "127.0.0.1")
    cert.cert_chain_pems[0].write_to_path(str(tmp_path / "cert.pem"))
    cert.private_key_pem.write_to_path(str(tmp_path / "key.pem"))
    port, tls_port = free_port(), free_port()
    text = f"""\
[server]
listen = ["127.0.0.1:{port}", {{ address = "127.0.0.1:{tls_port}", tls = true }}]
workers = 1
access_log = "off"
[tls]
cert = "cert.pem"
key = "key.pem"
[[route]]
respond = {{ body = "hello\\n" }}
"""
    server = start_server(tmp_path, text, port)
    report = tmp_path / "scan.json"
    try:
        done = subprocess.run(
            [
                "testssl",
                "--quiet",
                "--color",
                "0",
                "--warnings",
                "off",
                "-p",
                "-s",
                "--jsonfile",
                str(report),
                f"127.0.0.1:{tls_port}",
            ],
            capture_output=True,
            text=True,
            timeout=300,
            stdin=subprocess.DEVNULL,
        )
    finally:
        server.terminate()
    assert report.exists(), done.stdout + done.stderr
    findings = {f["id"]: f["finding"] for f in json.loads(report.read_text())}
    for name in NOT_OFFERED:
        assert findings.get(name, "").startswith("not offered"), (name, findings)
    assert findings["TLS1_2"].startswith("offered")
    assert findings["TLS1_3"].startswith("offered")
    assert findings["cipherlist_STRONG"].startswith("offered")

"""Config model helpers that derive values from the file (addresses, defaults)."""

from __future__ import annotations

import tempfile

from frontdesk.config import load_text


def test_admin_address_defaults_to_a_socket_named_for_the_first_port() -> None:
    cfg = load_text('[server]\nlisten = ["127.0.0.1:8123", ":9000"]\n', "a.toml")
    assert cfg.admin_address() == f"{tempfile.gettempdir()}/frontdesk-8123.sock"
    assert load_text('[admin]\nlisten = "off"\n', "a.toml").admin_address() is None
    assert load_text('[admin]\nlisten = "unix:/run/fd.sock"\n', "a.toml").admin_address() == (
        "/run/fd.sock"
    )
    tcp = load_text('[admin]\nlisten = "[::1]:9901"\n', "a.toml").admin_address()
    assert tcp == ("::1", 9901)

"""[access.NAME] / [auth.NAME] and rate_limit: `frontdesk check` names file, line, key."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from frontdesk.config import load_text
from frontdesk.errors import ConfigError

HASH = "$2b$04$abcdefghijklmnopqrstuu5Z8Y0mSXA9H6eF5ukGg4G/7S5bQvyrO"

BAD = [
    (
        '[[route]]\naccess = "staf"\nrespond = {}\n[access.staff]\nallow = ["10.0.0.0/8"]',
        "route[0].access",
        2,
        "no access rule 'staf'; did you mean 'staff'?",
    ),
    ('[[route]]\nauth = "x"\nrespond = {}', "route[0].auth", 2, "add an [access.x] table"),
    ('[access.a]\nhtpasswd = "missing.htpasswd"', "access.a.htpasswd", 2, "does not exist"),
    ('[access.a]\nallow = ["10.0.0.300/8"]', "access.a.allow[0]", 2, "invalid network"),
    ('[auth.a]\ndeny = ["::1", "fe80::/129"]', "auth.a.deny[1]", 2, "invalid network"),
    ("[access.a]\nsigned = { keys = [] }", "access.a.signed.keys", 2, "key list is empty"),
    ('[access.a]\nsigned = { keys = ["short"] }', "access.a.signed.keys", 2, "16 characters"),
    ('[access.a]\nrealm = "x"', "access.a", 1, "needs one of htpasswd"),
    (
        '[[route]]\nrespond = {}\nrate_limit = { rate = "fast" }',
        "route[0].rate_limit.rate",
        3,
        "10/s",
    ),
    (
        '[[route]]\nrespond = {}\nrate_limit = { rate = "1/s", key = "cookie" }',
        "route[0].rate_limit.key",
        3,
        "header:NAME",
    ),
    ("[[route]]\nrespond = {}\ninternal = true", "route[0].internal", 3, "only a `static`"),
]


@pytest.mark.parametrize(("text", "key", "line", "message"), BAD)
def test_mistakes_are_located(text: str, key: str, line: int, message: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_text(text, str(tmp_path / "fd.toml"))
    issues = [i for i in info.value.issues if i.key == key]
    assert issues, info.value.issues
    assert issues[0].line == line and message in issues[0].message, issues[0]


def test_plaintext_htpasswd_refused_with_its_line(tmp_path: Path) -> None:
    (tmp_path / "users").write_text(f"ok:{HASH}\nbad:hunter2\n")
    with pytest.raises(ConfigError) as info:
        load_text('[access.a]\nhtpasswd = "users"', str(tmp_path / "fd.toml"))
    (issue,) = info.value.issues
    assert issue.key == "access.a.htpasswd" and "users:2" in issue.message
    assert "plaintext" in issue.message


def test_both_spellings_and_rate_forms(tmp_path: Path) -> None:
    (tmp_path / "users").write_text(f"ok:{HASH}\n")
    config = load_text(
        '[[route]]\nauth = "staff"\nrespond = {}\n'
        '[[route]]\naccess = "ips"\nrespond = {}\nrate_limit = { rate = "600/m", burst = 5 }\n'
        '[auth.staff]\nhtpasswd = "users"\n[access.ips]\ndeny = ["192.0.2.0/24"]\n',
        str(tmp_path / "fd.toml"),
    )
    assert config.routes[0].access_name == "staff"
    assert config.access_rule("staff").htpasswd == str(tmp_path / "users")
    limit = config.routes[1].rate_limit
    assert limit is not None and limit.rate == 10.0 and limit.capacity == 5


def test_frontdesk_check_prints_file_line_key(tmp_path: Path) -> None:
    path = tmp_path / "fd.toml"
    path.write_text('[[route]]\nrespond = {}\naccess = "nope"\n')
    done = subprocess.run(
        [sys.executable, "-m", "frontdesk", "check", "-c", str(path)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2
    assert f"{path}:3: route[0].access: no access rule 'nope'" in done.stderr


def test_frontdesk_check_reports_every_access_mistake_at_once(tmp_path: Path) -> None:
    path = tmp_path / "fd.toml"
    path.write_text(
        '[[route]]\nrespond = {}\naccess = "nope"\n\n'
        '[access.a]\nhtpasswd = "missing.htpasswd"\n\n'
        '[access.b]\nallow = ["10.0.0.0/33"]\n\n'
        "[access.c]\nsigned = { keys = [] }\n"
    )
    done = subprocess.run(
        [sys.executable, "-m", "frontdesk", "check", "-c", str(path)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr
    for expected in (
        f"{path}:3: route[0].access: no access rule 'nope'",
        f"{path}:6: access.a.htpasswd: htpasswd file '{tmp_path / 'missing.htpasswd'}' "
        "does not exist",
        f"{path}:9: access.b.allow[0]: invalid network '10.0.0.0/33'",
        f"{path}:12: access.c.signed.keys: the key list is empty",
    ):
        assert expected in done.stderr, done.stderr
    assert "4 errors in the config" in done.stderr

"""htpasswd parsing and verification: each scheme's accept and reject paths."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import bcrypt
import pytest
from argon2 import PasswordHasher

from frontdesk.access.basic import credentials
from frontdesk.access.htpasswd import apr1, parse, verify
from frontdesk.access.passwd import PasswdError, delete_user, set_password


def _bcrypt(password: bytes, prefix: bytes = b"$2b$") -> str:
    hashed = bcrypt.hashpw(password, bcrypt.gensalt(rounds=4))
    return (prefix + hashed[4:]).decode()


def test_bcrypt_both_prefixes_accept_and_reject() -> None:
    for prefix in (b"$2b$", b"$2y$", b"$2a$"):
        parsed = parse(f"alice:{_bcrypt(b'secret', prefix)}\n")
        assert not parsed.errors and not parsed.warnings
        entry = parsed.entries["alice"]
        assert entry.scheme == "bcrypt"
        assert verify(entry, b"secret")
        assert not verify(entry, b"Secret")


def test_argon2_accept_and_reject() -> None:
    hashed = PasswordHasher(time_cost=1, memory_cost=1024).hash("pw")
    entry = parse(f"bob:{hashed}").entries["bob"]
    assert entry.scheme == "argon2"
    assert verify(entry, b"pw") and not verify(entry, b"pw2")


def test_apr1_matches_openssl_and_warns() -> None:
    # `openssl passwd -apr1 -salt abcdefgh secret`
    known = "$apr1$abcdefgh$h9FWgUz3n9YxylKLlR5SQ/"
    assert apr1(b"secret", b"abcdefgh").decode() == known
    parsed = parse(f"carol:{known}")
    assert parsed.warnings and "legacy apr1" in parsed.warnings[0][1]
    assert verify(parsed.entries["carol"], b"secret")
    assert not verify(parsed.entries["carol"], b"secreT")


def test_sha1_accepted_with_warning() -> None:
    digest = base64.b64encode(hashlib.sha1(b"pw").digest()).decode()
    parsed = parse(f"dave:{{SHA}}{digest}")
    assert parsed.warnings and verify(parsed.entries["dave"], b"pw")
    assert not verify(parsed.entries["dave"], b"px")


@pytest.mark.parametrize("line", ["eve:secret", "eve:abJnggxhB/yWI", "eve:", "no-colon"])
def test_plaintext_and_crypt_refused(line: str) -> None:
    parsed = parse("# comment\n\n" + line + "\n")
    assert parsed.errors and parsed.errors[0][0] == 3
    assert "eve" not in parsed.entries


def test_credentials_parse() -> None:
    token = base64.b64encode("zoë:pa:ss".encode())
    assert credentials(b"Basic " + token) == ("zoë", b"pa:ss")  # the first colon splits
    assert credentials(b"basic " + token) == ("zoë", b"pa:ss")  # scheme case-insensitive
    assert credentials(b"Bearer " + token) is None
    assert credentials(b"Basic !!!") is None
    assert credentials(b"Basic " + base64.b64encode(b"nocolon")) is None


def test_passwd_add_update_delete(tmp_path: Path) -> None:
    path = str(tmp_path / "users")
    assert set_password(path, "alice", b"one", rounds=4)
    assert set_password(path, "bob", b"two", rounds=4)
    assert not set_password(path, "alice", b"three", rounds=4)
    entries = parse(Path(path).read_text()).entries
    assert set(entries) == {"alice", "bob"}
    assert verify(entries["alice"], b"three") and not verify(entries["alice"], b"one")
    assert (Path(path).stat().st_mode & 0o777) == 0o600
    delete_user(path, "alice")
    assert set(parse(Path(path).read_text()).entries) == {"bob"}
    with pytest.raises(PasswdError):
        delete_user(path, "alice")
    with pytest.raises(PasswdError):
        set_password(path, "a:b", b"x")

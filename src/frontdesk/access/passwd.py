"""Edit an htpasswd file (`frontdesk passwd`): add or update a user, or remove one.

The file is rewritten whole through a temporary file and rename(2), so a running
server (which reloads it on change) never reads half a file; other lines, comments
included, are kept as they were, and the file's mode too (0600 for a new one).
"""

from __future__ import annotations

import os
import tempfile

from frontdesk.access.htpasswd import hash_password

__all__ = ["set_password", "delete_user", "PasswdError"]


class PasswdError(Exception):
    pass


def _check_user(user: str) -> None:
    if not user or ":" in user or any(c in user for c in "\r\n\0"):
        raise PasswdError(f"invalid user name {user!r}: no ':', newline or NUL")


def _lines(path: str) -> list[str]:
    try:
        with open(path, encoding="utf-8") as f:
            return f.read().splitlines()
    except FileNotFoundError:
        return []
    except (OSError, UnicodeDecodeError) as exc:
        raise PasswdError(f"cannot read {path}: {exc}") from None


def _write(path: str, lines: list[str]) -> None:
    directory = os.path.dirname(os.path.abspath(path))
    try:
        mode = os.stat(path).st_mode & 0o777
    except FileNotFoundError:
        mode = 0o600
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".htpasswd-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write("".join(line + "\n" for line in lines))
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except OSError as exc:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise PasswdError(f"cannot write {path}: {exc}") from None


def _is_user(line: str, user: str) -> bool:
    return line.split(":", 1)[0].strip() == user and ":" in line


def set_password(path: str, user: str, password: bytes, rounds: int = 12) -> bool:
    """Add `user` or replace their hash (bcrypt); True when the user was new."""
    _check_user(user)
    if not password:
        raise PasswdError("empty password")
    entry = f"{user}:{hash_password(password, rounds)}"
    lines = _lines(path)
    new = not any(_is_user(line, user) for line in lines)
    if new:
        lines.append(entry)
    else:
        lines = [entry if _is_user(line, user) else line for line in lines]
    _write(path, lines)
    return new


def delete_user(path: str, user: str) -> None:
    _check_user(user)
    lines = _lines(path)
    kept = [line for line in lines if not _is_user(line, user)]
    if len(kept) == len(lines):
        raise PasswdError(f"no user {user!r} in {path}")
    _write(path, kept)

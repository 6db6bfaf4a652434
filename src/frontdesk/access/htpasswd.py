"""htpasswd files: parse the lines, tell the hash schemes apart, verify a password.

Accepted schemes, as Apache's htpasswd writes them:
  bcrypt    $2y$ / $2b$ / $2a$   (htpasswd -B; frontdesk passwd)  through `bcrypt`
  argon2    $argon2id$ / $argon2i$ / $argon2d$                    through `argon2-cffi`
  apr1      $apr1$  (htpasswd -m, the old default: MD5 iterated 1000 times) legacy
  sha1      {SHA}   (htpasswd -s: unsalted SHA-1)                            legacy
Legacy hashes are accepted with a warning at load; anything else (plaintext, crypt(3)
DES) is refused, since it would either store a password in the clear or be broken
by a laptop in minutes.

Pure: no file or clock access here (basic.py reads the file in a thread).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass

import bcrypt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

__all__ = ["Entry", "Parsed", "parse", "verify", "hash_password", "LEGACY", "scheme_of"]

LEGACY = frozenset({"apr1", "sha1"})
_ARGON2 = PasswordHasher()


@dataclass(frozen=True, slots=True)
class Entry:
    user: str
    scheme: str  # "bcrypt", "argon2", "apr1", "sha1"
    hash: str


@dataclass(frozen=True, slots=True)
class Parsed:
    entries: dict[str, Entry]
    warnings: list[tuple[int, str]]  # (line number, message)
    errors: list[tuple[int, str]]


def scheme_of(hashed: str) -> str | None:
    """The scheme of a stored hash, or None when it is not one frontdesk accepts."""
    if hashed.startswith(("$2y$", "$2b$", "$2a$")) and len(hashed) == 60:
        return "bcrypt"
    if hashed.startswith(("$argon2id$", "$argon2i$", "$argon2d$")):
        return "argon2"
    if hashed.startswith("$apr1$") and hashed.count("$") == 3:
        return "apr1"
    if hashed.startswith("{SHA}") and len(hashed) == 33:
        return "sha1"
    return None


def parse(text: str) -> Parsed:
    """Every `user:hash` line; blank lines and lines starting with # are skipped."""
    entries: dict[str, Entry] = {}
    warnings: list[tuple[int, str]] = []
    errors: list[tuple[int, str]] = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        user, sep, hashed = line.partition(":")
        if not sep or not user:
            errors.append((number, "expected user:hash"))
            continue
        scheme = scheme_of(hashed)
        if scheme is None:
            errors.append(
                (
                    number,
                    f"user {user!r}: not a bcrypt, argon2, apr1 or SHA1 hash "
                    "(plaintext and crypt passwords are refused; use `frontdesk passwd`)",
                )
            )
            continue
        if scheme in LEGACY:
            warnings.append(
                (number, f"user {user!r}: legacy {scheme} hash; re-set it with `frontdesk passwd`")
            )
        if user in entries:
            warnings.append((number, f"user {user!r} appears again: this line wins"))
        entries[user] = Entry(user, scheme, hashed)
    return Parsed(entries, warnings, errors)


def verify(entry: Entry, password: bytes) -> bool:
    """Whether `password` matches; slow on purpose for bcrypt/argon2 (run in a thread).
    Every comparison here is constant-time."""
    if entry.scheme == "bcrypt":
        stored = entry.hash.encode("ascii")
        if stored.startswith(b"$2y$"):
            stored = b"$2b$" + stored[4:]  # the same algorithm, as PHP and Apache name it
        try:
            return bcrypt.checkpw(password, stored)
        except ValueError:
            return False
    if entry.scheme == "argon2":
        try:
            return _ARGON2.verify(entry.hash, password)
        except (VerificationError, InvalidHashError):
            return False
    if entry.scheme == "apr1":
        salt = entry.hash.split("$")[2]
        return hmac.compare_digest(apr1(password, salt.encode("ascii")), entry.hash.encode())
    if entry.scheme == "sha1":
        digest = base64.b64encode(hashlib.sha1(password).digest())
        return hmac.compare_digest(b"{SHA}" + digest, entry.hash.encode("ascii"))
    return False


def hash_password(password: bytes, rounds: int = 12) -> str:
    """A new bcrypt hash, as `htpasswd -B` writes it."""
    return bcrypt.hashpw(password, bcrypt.gensalt(rounds=rounds)).decode("ascii")


_APR1_ALPHABET = b"./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def _to64(value: int, n: int) -> bytes:
    out = bytearray()
    for _ in range(n):
        out.append(_APR1_ALPHABET[value & 0x3F])
        value >>= 6
    return bytes(out)


def apr1(password: bytes, salt: bytes) -> bytes:
    """Apache's MD5-based crypt variant ("$apr1$salt$hash"), as specified by its
    documented algorithm (md5crypt with the "$apr1$" magic)."""
    magic = b"$apr1$"
    salt = salt[:8]
    alt = hashlib.md5(password + salt + password).digest()
    ctx = hashlib.md5(password + magic + salt)
    length = len(password)
    while length > 0:
        ctx.update(alt[: min(16, length)])
        length -= 16
    i = len(password)
    while i:
        ctx.update(b"\0" if i & 1 else password[:1])
        i >>= 1
    final = ctx.digest()
    for r in range(1000):
        step = hashlib.md5()
        step.update(password if r & 1 else final)
        if r % 3:
            step.update(salt)
        if r % 7:
            step.update(password)
        step.update(final if r & 1 else password)
        final = step.digest()
    f = final
    encoded = b"".join(
        _to64((f[a] << 16) | (f[b] << 8) | f[c], 4)
        for a, b, c in ((0, 6, 12), (1, 7, 13), (2, 8, 14), (3, 9, 15), (4, 10, 5))
    )
    encoded += _to64(f[11], 2)
    return magic + salt + b"$" + encoded

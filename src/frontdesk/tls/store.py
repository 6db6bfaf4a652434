"""Certificates obtained by ACME, on disk: `<storage>/<name>/cert.pem` and `key.pem`,
and the account key `<storage>/account.key`. Every file is written 0600 (a key is a
secret; the certificate beside it is kept alike) by a rename, so a reader never sees
half a file, and the directory is 0700.
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass

__all__ = ["Stored", "CertStore"]


@dataclass(frozen=True)
class Stored:
    name: str
    cert: str  # path of the full chain
    key: str  # path of its key
    not_after: datetime.datetime


class CertStore:
    def __init__(self, directory: str) -> None:
        self.directory = directory

    def _dir(self, *parts: str) -> str:
        return os.path.join(self.directory, *parts)

    def write(self, relative: str, data: bytes) -> str:
        """Write `data` to `<storage>/<relative>` (0600, by a rename); return its path."""
        path = self._dir(relative)
        parent = os.path.dirname(path)
        os.makedirs(parent, mode=0o700, exist_ok=True)
        os.chmod(self.directory, 0o700)
        temporary = f"{path}.{os.getpid()}.tmp"
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temporary, path)
        return path

    def read(self, relative: str) -> bytes | None:
        try:
            with open(self._dir(relative), "rb") as f:
                return f.read()
        except FileNotFoundError:
            return None

    def save(self, name: str, fullchain: bytes, key: bytes) -> Stored:
        key_path = self.write(os.path.join(name, "key.pem"), key)
        cert_path = self.write(os.path.join(name, "cert.pem"), fullchain)
        return Stored(name, cert_path, key_path, _not_after(fullchain))

    def load(self, name: str) -> Stored | None:
        """The certificate stored for `name`, or None (none, or unreadable)."""
        cert = self.read(os.path.join(name, "cert.pem"))
        if cert is None or self.read(os.path.join(name, "key.pem")) is None:
            return None
        try:
            not_after = _not_after(cert)
        except ValueError:
            return None
        return Stored(name, self._dir(name, "cert.pem"), self._dir(name, "key.pem"), not_after)


def _not_after(pem: bytes) -> datetime.datetime:
    from cryptography import x509

    return x509.load_pem_x509_certificates(pem)[0].not_valid_after_utc

"""The ``[tls]`` table and TLS listeners: certificates, protocol versions, ACME, HSTS.

Certificate and key files are read and checked here, at load time, so a bad file is a
config error naming the file and the reason before anything starts (and again on
`frontdesk reload`, which re-reads them). Paths are made absolute, relative to the
config file's directory, so a worker validating the dumped config finds the same files.
"""

from __future__ import annotations

import os
import re
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from .types import MODEL_CONFIG, Duration, ListenAddress, check_field_value

__all__ = ["Listener", "Certificate", "Acme", "Tls", "INTERMEDIATE_CIPHERS", "cert_names"]

INTERMEDIATE_CIPHERS = ":".join(
    (
        # Mozilla's "intermediate" TLS 1.2 suites (server-side-tls guidelines v5.7), in
        # their order; TLS 1.3 suites are OpenSSL's defaults, all of them AEAD. The DHE
        # suites are left out: Python's ssl sets no DH parameters, so they never apply.
        "ECDHE-ECDSA-AES128-GCM-SHA256",
        "ECDHE-RSA-AES128-GCM-SHA256",
        "ECDHE-ECDSA-AES256-GCM-SHA384",
        "ECDHE-RSA-AES256-GCM-SHA384",
        "ECDHE-ECDSA-CHACHA20-POLY1305",
        "ECDHE-RSA-CHACHA20-POLY1305",
    )
)


class Listener(BaseModel):
    """A listen address written as a table: `{ address = "0.0.0.0:443", tls = true }`."""

    model_config = MODEL_CONFIG

    address: ListenAddress
    """"host:port", "[::1]:port", ":port" or a port number, as a plain listen string."""

    tls: bool = False
    """Terminate TLS on this address with the ``[tls]`` certificates. Default false."""

    redirect_https: bool = False
    """Answer every request on this (plain HTTP) address with a 308 redirect to the
    same URL on the first TLS listener (ACME HTTP-01 challenges are still answered
    here). Default false."""

    h2c: bool = False
    """Also accept cleartext HTTP/2 with prior knowledge (RFC 9113 §3.3) on this plain
    HTTP listener: a connection that opens with the HTTP/2 preface speaks HTTP/2, any
    other HTTP/1.1. For a load balancer or proxy in front that speaks h2c; browsers
    use HTTP/2 only over TLS, where ALPN picks it ([http2]). Default false."""

    @model_validator(mode="after")
    def _check(self) -> Listener:
        if self.tls and self.redirect_https:
            raise ValueError("redirect_https is for a plain HTTP listener, not a tls one")
        if self.h2c and self.tls:
            raise ValueError("h2c is for a plain listener: on a tls one ALPN offers HTTP/2")
        if self.h2c and self.redirect_https:
            raise ValueError("h2c and redirect_https do not go together: this listener redirects")
        return self


def _absolute(value: str, info: ValidationInfo) -> str:
    base = (info.context or {}).get("config_dir") or os.getcwd()
    return os.path.normpath(os.path.join(base, os.path.expanduser(value)))


def _read(path: str, what: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as exc:
        raise ValueError(f"cannot read {what} file {path!r}: {exc.strerror}") from None


def cert_names(pem: bytes) -> list[str]:
    """The DNS names a PEM certificate (its first one) is for, lower case."""
    from cryptography import x509

    cert = x509.load_pem_x509_certificates(pem)[0]
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        names = san.value.get_values_for_type(x509.DNSName)
    except x509.ExtensionNotFound:
        names = [
            str(a.value) for a in cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
        ]
    return [n.lower().rstrip(".") for n in names]


def check_pair(cert_path: str, key_path: str) -> None:
    """Raise ValueError naming the file and the reason when `cert_path` / `key_path` are
    not a PEM certificate chain and the private key that matches its first certificate."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    cert_pem = _read(cert_path, "certificate")
    key_pem = _read(key_path, "key")
    try:
        chain = x509.load_pem_x509_certificates(cert_pem)
    except ValueError:
        raise ValueError(
            f"{cert_path}: not a PEM certificate (expected -----BEGIN CERTIFICATE-----)"
        ) from None
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError) as exc:
        reason = "encrypted keys are not supported" if "encrypted" in str(exc) else str(exc)
        raise ValueError(f"{key_path}: not a usable PEM private key: {reason}") from None
    if key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ) != chain[0].public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ):
        raise ValueError(f"{key_path}: this key does not belong to the certificate {cert_path}")


def uncovered(tls: Tls, hosts: list[str]) -> list[str]:
    """The names of `hosts` (route host names) that no configured certificate covers,
    in order, once each: what ACME has to get."""
    exact: set[str] = set()
    parents: set[str] = set()
    for cert in [tls.cert, *(c.cert for c in tls.certificates)]:
        if cert is None:
            continue
        for name in cert_names(_read(cert, "certificate")):
            if name.startswith("*."):
                parents.add(name[2:])
            else:
                exact.add(name)
    out: list[str] = []
    for host in hosts:
        name = host.rstrip(".")
        covered = (
            name in exact
            or (not name.startswith("*.") and name.partition(".")[2] in parents)
            or (name.startswith("*.") and name[2:] in parents)
        )
        if not covered and name not in out:
            out.append(name)
    return out


class Certificate(BaseModel):
    """A certificate chain and its key; used for the host names the certificate lists."""

    model_config = MODEL_CONFIG

    cert: Annotated[str, Field(min_length=1), AfterValidator(_absolute)]
    """PEM file: the certificate first, then its intermediates. Relative to the config
    file's directory. Required."""

    key: Annotated[str, Field(min_length=1), AfterValidator(_absolute)]
    """PEM file with the certificate's private key (not encrypted). Required."""

    @model_validator(mode="after")
    def _check(self) -> Certificate:
        check_pair(self.cert, self.key)
        return self


_HSTS_RE = re.compile(r"max-age=\d+(\s*;\s*(includeSubDomains|preload))*", re.IGNORECASE)


def _hsts(value: dict[str, str]) -> dict[str, str]:
    # RFC 6797 §6.1: Strict-Transport-Security = "max-age=" delta-seconds
    #   [ ";" "includeSubDomains" ] (and the de-facto "preload").
    out = {}
    for host, header in value.items():
        check_field_value(header, "hsts value")
        if not _HSTS_RE.fullmatch(header.strip()):
            raise ValueError(
                f'hsts[{host!r}]: expected e.g. "max-age=31536000; includeSubDomains", '
                f"got {header!r}"
            )
        out[host.strip().lower().rstrip(".")] = header.strip()
    return out


class Acme(BaseModel):
    """Automatic certificates from an ACME CA (RFC 8555), e.g. Let's Encrypt."""

    model_config = MODEL_CONFIG

    email: Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+$")]
    """Contact address for the account: the CA writes here about expiring certificates
    and problems. Required."""

    directory: str = "https://acme-v02.api.letsencrypt.org/directory"
    """The CA's directory URL. Default Let's Encrypt's production directory; its
    staging directory is "https://acme-staging-v02.api.letsencrypt.org/directory"."""

    ca: Annotated[str, AfterValidator(_absolute)] | None = None
    """A PEM bundle to verify the directory's HTTPS with, for a private ACME server;
    default the system store."""

    storage: str = ""
    """Directory for the account key, certificates and their keys (files 0600); ""
    for "frontdesk-acme" beside the config file. Default ""."""

    renew_before: Duration = 30 * 86400.0
    """Renew a certificate this long before it expires. Default "30d"."""

    check_interval: Annotated[Duration, Field(ge=1)] = 3600.0
    """How often the master looks for certificates to get or renew. Default "1h"."""

    @field_validator("storage")
    @classmethod
    def _storage(cls, value: str, info: ValidationInfo) -> str:
        return _absolute(value or "frontdesk-acme", info)


class Tls(BaseModel):
    """The ``[tls]`` table: certificates and settings for every `tls = true` listener."""

    model_config = MODEL_CONFIG

    cert: Annotated[str, AfterValidator(_absolute)] | None = None
    """PEM certificate chain used when no other certificate matches the requested name
    (or the client sends none). Relative to the config file's directory."""

    key: Annotated[str, AfterValidator(_absolute)] | None = None
    """The private key of `cert`."""

    certificates: tuple[Certificate, ...] = ()
    """More certificates, each { cert, key }: chosen by SNI from the names in each
    certificate ("*.example.com" certificates match one label). Default []."""

    min_version: Literal["1.2", "1.3"] = "1.2"
    """Lowest TLS version accepted: "1.2" or "1.3". Nothing older is ever offered.
    Default "1.2"."""

    ciphers: Annotated[str, Field(min_length=1)] = INTERMEDIATE_CIPHERS
    """TLS 1.2 cipher suites, in OpenSSL syntax. Default Mozilla's "intermediate"
    list (ECDHE with AES-GCM or ChaCha20-Poly1305)."""

    session_tickets: bool = True
    """Offer session resumption with tickets. The master makes the ticket key and
    shares it with every worker, so a session resumes on any worker. Default true."""

    ticket_key_rotation: Annotated[Duration, Field(ge=60)] = 12 * 3600.0
    """A new ticket key replaces the old one this often (a session older than that
    makes a full handshake). Default "12h"."""

    hsts: Annotated[dict[str, str], AfterValidator(_hsts)] = {}
    """Strict-Transport-Security per host, sent on HTTPS answers only (RFC 6797 §7.2):
    { "example.com" = "max-age=31536000; includeSubDomains" }; "*" for any other host.
    Default {} (none)."""

    acme: Acme | None = None
    """Get certificates automatically: { email, directory } (see below). Every host
    name a route matches that no configured certificate covers gets one."""

    @model_validator(mode="after")
    def _check(self) -> Tls:
        if (self.cert is None) != (self.key is None):
            raise ValueError("cert and key go together: give both or neither")
        if self.cert is not None and self.key is not None:
            check_pair(self.cert, self.key)
        try:
            import ssl

            ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).set_ciphers(self.ciphers)
        except ssl.SSLError:
            raise ValueError(f"ciphers: OpenSSL knows none of {self.ciphers!r}") from None
        return self

    @property
    def has_certificates(self) -> bool:
        """Whether any certificate is configured or obtained automatically."""
        return self.cert is not None or bool(self.certificates) or self.acme is not None

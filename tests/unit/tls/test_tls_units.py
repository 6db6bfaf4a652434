"""The pure parts of TLS: certificate choice by name, listen tables, [tls] checks, the
ticket-key installation, the capped SSLObject read."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
import trustme
from hypothesis import given
from hypothesis import strategies as st

from frontdesk.config.load import load_text
from frontdesk.config.model import apply_env
from frontdesk.config.tls import Listener
from frontdesk.errors import ConfigError
from frontdesk.tls import tickets
from frontdesk.tls.contexts import CertificateMap


def test_exact_name_then_wildcard_then_default() -> None:
    m = CertificateMap()
    m.add(["example.com", "www.example.com"], "main")
    m.add(["*.example.com"], "wild")
    m.add(["other.test"], "other")
    assert m.pick("example.com") == "main"
    assert m.pick("WWW.Example.com.") == "main"  # case and a trailing dot
    assert m.pick("api.example.com") == "wild"
    assert m.pick("a.b.example.com") == "main"  # RFC 6125 §6.4.3: one label only
    assert m.pick("other.test") == "other"
    assert m.pick(None) == "main"  # no SNI: the first certificate
    assert m.pick("unknown.test") == "main"


def test_first_certificate_keeps_a_name() -> None:
    m = CertificateMap()
    m.add(["a.test"], 1)
    m.add(["a.test"], 2)
    assert m.pick("a.test") == 1


@given(st.from_regex(r"[a-z0-9]{1,10}(\.[a-z0-9]{1,10}){0,3}", fullmatch=True))
def test_pick_always_answers_when_there_is_a_default(name: str) -> None:
    m = CertificateMap()
    m.add(["*.example.com"], "wild")
    assert m.pick(name) == "wild"  # the default when nothing else matches
    assert m.pick(name + ".example.com") == ("wild" if "." not in name else "wild")


def _pair(tmp_path: Path, *names: str) -> tuple[str, str]:
    cert = trustme.CA().issue_cert(*names)
    c, k = tmp_path / "c.pem", tmp_path / "k.pem"
    cert.cert_chain_pems[0].write_to_path(str(c))
    cert.private_key_pem.write_to_path(str(k))
    return str(c), str(k)


def test_listen_tables_and_strings(tmp_path: Path) -> None:
    _pair(tmp_path, "localhost")
    text = """\
[server]
listen = ["127.0.0.1:80", { address = "127.0.0.1:443", tls = true },
          { address = ":81", redirect_https = true }]
[tls]
cert = "c.pem"
key = "k.pem"
"""
    config = load_text(text, str(tmp_path / "f.toml"))
    assert config.server.listen[0] == "127.0.0.1:80"  # plain strings stay strings
    assert config.listeners()[1] == Listener(address="127.0.0.1:443", tls=True)
    assert config.listen_addresses() == [("127.0.0.1", 80), ("127.0.0.1", 443), ("", 81)]
    assert config.tls is not None and config.tls.cert == str(tmp_path / "c.pem")
    # $PORT: one address per host, the first entry's table kept (Heroku's router
    # terminates TLS and forwards plain HTTP to $PORT).
    moved = apply_env(config, {"PORT": "9000"})
    assert [(x.address, x.tls) for x in moved.listeners()] == [
        ("127.0.0.1:9000", False),
        (":9000", False),
    ]
    tls_first = config.model_copy(
        update={"server": config.server.model_copy(update={"listen": config.server.listen[1:]})}
    )
    assert [x.tls for x in apply_env(tls_first, {"PORT": "9000"}).listeners()] == [True, False]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[server]\nlisten = [{ address = ":1", tls = true }]', "a tls listener needs"),
        ('[server]\nlisten = [{ address = ":1", redirect_https = true }]', "needs a listener"),
        (
            '[server]\nlisten = [{ address = ":1", tls = true, redirect_https = true }]',
            "redirect_https is for a plain HTTP listener",
        ),
        ('[tls]\ncert = "c.pem"', "cert and key go together"),
        ('[tls]\ncert = "c.pem"\nkey = "k.pem"\nciphers = "NOPE"', "OpenSSL knows none"),
        ('[tls]\nhsts = { "a.test" = "max-age=abc" }', 'expected e.g. "max-age='),
        ('[tls]\nmin_version = "1.1"', "expected '1.2' or '1.3'"),
        ('[tls]\ncert = "missing.pem"\nkey = "k.pem"', "cannot read certificate file"),
    ],
)
def test_tls_config_errors(tmp_path: Path, text: str, message: str) -> None:
    _pair(tmp_path, "localhost")
    with pytest.raises(ConfigError) as err:
        load_text(text, str(tmp_path / "f.toml"))
    assert message in str(err.value)


def test_key_of_another_certificate_is_named(tmp_path: Path) -> None:
    c, _ = _pair(tmp_path, "localhost")
    other = trustme.CA().issue_cert("x.test")
    other.private_key_pem.write_to_path(str(tmp_path / "other.key"))
    with pytest.raises(ConfigError) as err:
        load_text('[tls]\ncert = "c.pem"\nkey = "other.key"', str(tmp_path / "f.toml"))
    assert "other.key: this key does not belong to the certificate" in str(err.value)


def test_ticket_key_installed_and_read_back(tmp_path: Path) -> None:
    assert tickets.supported() is None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    key = tickets.new_key()
    assert tickets.install(context, key)
    with pytest.raises(ValueError):
        tickets.install(context, b"short")

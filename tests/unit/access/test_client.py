"""The real client address: forwarded fields believed only from trusted proxies."""

from __future__ import annotations

from frontdesk.access.client import client_address, networks

TRUSTED = networks(("10.0.0.0/8", "::1"))


def test_spoofed_forwarded_for_from_untrusted_peer_is_ignored() -> None:
    headers = [(b"X-Forwarded-For", b"10.1.1.1, 127.0.0.1"), (b"Forwarded", b"for=10.2.2.2")]
    assert client_address("203.0.113.9", headers, TRUSTED) == "203.0.113.9"


def test_rightmost_untrusted_hop_is_the_client() -> None:
    headers = [(b"X-Forwarded-For", b"1.1.1.1, 198.51.100.4"), (b"x-forwarded-for", b"10.0.0.2")]
    # 10.0.0.2 is one of our proxies; 198.51.100.4 the client; 1.1.1.1 is what the
    # client claimed, and is not believed.
    assert client_address("10.0.0.1", headers, TRUSTED) == "198.51.100.4"


def test_forwarded_rfc7239_and_ipv6() -> None:
    headers = [(b"Forwarded", b'for="[2001:db8::7]:4711";proto=https, for=10.9.9.9')]
    assert client_address("::1", headers, TRUSTED) == "2001:db8::7"


def test_garbage_stops_the_walk_and_mapped_addresses_unwrap() -> None:
    headers = [(b"X-Forwarded-For", b"198.51.100.4, unknown, 10.0.0.3")]
    assert client_address("10.0.0.1", headers, TRUSTED) == "10.0.0.3"
    assert client_address("::ffff:203.0.113.5", [], TRUSTED) == "203.0.113.5"
    assert client_address("10.0.0.1", [], ()) == "10.0.0.1"

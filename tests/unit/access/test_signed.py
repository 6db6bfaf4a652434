"""Signed URLs: valid, tampered, expired, rotated keys, client binding."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from hypothesis import given
from hypothesis import strategies as st

from frontdesk import sign_url
from frontdesk.access.signed import Outcome, verify

K1 = "k1-0123456789abcdef"
K2 = "k2-0123456789abcdef"
NOW = 1_800_000_000.0


def _split(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.path, parts.query


def test_valid_until_expiry_then_gone() -> None:
    path, query = _split(sign_url("/dl/report.pdf", K1, 60, now=NOW))
    assert verify((K1,), path, query, NOW + 59, None) is Outcome.VALID
    assert verify((K1,), path, query, NOW + 60, None) is Outcome.EXPIRED


def test_tampering_is_403_not_410() -> None:
    path, query = _split(sign_url("/dl/report.pdf", K1, 60, now=NOW))
    q = parse_qs(query)
    later = query.replace(q["expires"][0], str(int(q["expires"][0]) + 3600))
    assert verify((K1,), path, later, NOW, None) is Outcome.TAMPERED
    assert verify((K1,), "/dl/other.pdf", query, NOW, None) is Outcome.TAMPERED
    assert verify((K1,), path, "expires=1", NOW, None) is Outcome.MISSING
    assert verify((K1,), path, "", NOW, None) is Outcome.MISSING


def test_rotation_accepts_old_and_new_keys() -> None:
    old = _split(sign_url("/a", K1, 60, now=NOW))
    new = _split(sign_url("/a", K2, 60, now=NOW))
    assert verify((K2, K1), *old, NOW, None) is Outcome.VALID
    assert verify((K2, K1), *new, NOW, None) is Outcome.VALID
    assert verify((K2,), *old, NOW, None) is Outcome.TAMPERED  # K1 retired


def test_client_address_binding() -> None:
    path, query = _split(sign_url("/a", K1, 60, client_address="192.0.2.7", now=NOW))
    assert verify((K1,), path, query, NOW, "192.0.2.7") is Outcome.VALID
    assert verify((K1,), path, query, NOW, "192.0.2.8") is Outcome.TAMPERED


def test_existing_query_and_encoded_path_kept() -> None:
    url = sign_url("http://example.com/dl/a%20b.pdf?x=1", K1, 60, now=NOW)
    assert url.startswith("http://example.com/dl/a%20b.pdf?x=1&expires=")
    assert verify((K1,), "/dl/a b.pdf", urlsplit(url).query, NOW, None) is Outcome.VALID


@given(st.integers(min_value=0, max_value=42), st.characters(whitelist_categories=("Ll", "Nd")))
def test_any_changed_signature_character_is_tampering(index: int, char: str) -> None:
    path, query = _split(sign_url("/p", K1, 60, now=NOW))
    sig = parse_qs(query)["signature"][0]
    changed = sig[:index] + char + sig[index + 1 :]
    outcome = verify((K1,), path, query.replace(sig, changed), NOW, None)
    assert outcome is (Outcome.VALID if changed == sig else Outcome.TAMPERED)

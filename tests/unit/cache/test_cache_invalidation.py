"""Invalidation after unsafe methods (RFC 9111 §4.4)."""

from __future__ import annotations

import pytest
from cache_helpers import h, request

from frontdesk.cache.invalidation import invalidated_keys
from frontdesk.cache.options import KeyOptions

OPTS = KeyOptions()


def keys(method: str = "POST", status: int = 200, **fields: str) -> tuple[str, ...]:
    return invalidated_keys(request(method, "/items/1", port=None), status, h(**fields), OPTS)


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "PURGEX"])
@pytest.mark.parametrize("status", [200, 201, 204, 301, 303, 399])
def test_unsafe_method_non_error_invalidates_target_rfc9111_4_4(method: str, status: int) -> None:
    """§4.4: "A cache MUST invalidate the target URI ... when it receives a non-error status
    code in response to an unsafe request method (including methods whose safety is
    unknown)"."""
    assert keys(method, status) == ("https://example.com/items/1",)


@pytest.mark.parametrize("status", [400, 404, 409, 500, 503, 100])
def test_error_status_does_not_invalidate_rfc9111_4_4(status: int) -> None:
    assert keys("POST", status) == ()


@pytest.mark.parametrize("method", ["GET", "HEAD", "OPTIONS", "TRACE"])
def test_safe_methods_do_not_invalidate_rfc9110_9_2_1(method: str) -> None:
    assert keys(method) == ()


@pytest.mark.parametrize(
    ("location", "key"),
    [
        ("/items", "https://example.com/items"),
        ("2", "https://example.com/items/2"),
        ("../list?page=1", "https://example.com/list?page=1"),
        ("https://example.com/x", "https://example.com/x"),
        ("https://EXAMPLE.com:443/x", "https://example.com/x"),
        ("//example.com/y", "https://example.com/y"),
        ("/a%20b", "https://example.com/a b"),
    ],
)
def test_same_origin_location_invalidated_rfc9111_4_4(location: str, key: str) -> None:
    assert keys(location=location) == ("https://example.com/items/1", key)


def test_content_location_invalidated_rfc9111_4_4() -> None:
    assert keys(content_location="/items/1.json")[1] == "https://example.com/items/1.json"


@pytest.mark.parametrize(
    "location",
    [
        "https://other.test/x",
        "http://example.com/x",
        "https://example.com:8443/x",
        "mailto:a@example.com",
        "https://example.com:bad/x",
        "ftp://example.com/x",
    ],
)
def test_other_origin_not_invalidated_rfc9111_4_4(location: str) -> None:
    """§4.4: "a cache MUST NOT trigger an invalidation under these conditions if the
    origin ... of the URI to be invalidated differs from that of the target URI"."""
    assert keys(location=location) == ("https://example.com/items/1",)


def test_duplicate_keys_collapsed() -> None:
    assert keys(location="/items/1", content_location="/items/1") == (
        "https://example.com/items/1",
    )


def test_ipv6_origin_compared_with_brackets() -> None:
    req = request("DELETE", "/r", host="[::1]", scheme="http", port=8080)
    out = invalidated_keys(req, 204, h(location="http://[::1]:8080/s"), OPTS)
    assert out == ("http://[::1]:8080/r", "http://[::1]:8080/s")


def test_query_normalisation_applies_to_invalidated_keys() -> None:
    opts = KeyOptions(ignore_params=("utm_*",))
    out = invalidated_keys(request("POST"), 200, h(location="/b?utm_x=1&id=2"), opts)
    assert out == ("https://example.com/a", "https://example.com/b?id=2")

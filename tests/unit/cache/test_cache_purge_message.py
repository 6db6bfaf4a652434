"""Purge requests as the admin API takes them, and URLs as purge keys (cache/purge.py)."""

from __future__ import annotations

import json

import pytest

from frontdesk.cache.purge import PurgeError, prefix_key, split_url
from frontdesk.master.purge import purge_message


def test_split_url_normalises_host_port_and_path() -> None:
    assert split_url("http://Example.COM/a/../b?x=1") == ("example.com", None, "/b", "x=1")
    assert split_url("http://example.com:80/") == ("example.com", None, "/", "")
    assert split_url("https://example.com:8443/p") == ("example.com", 8443, "/p", "")
    assert split_url("http://[::1]:8080/") == ("[::1]", 8080, "/", "")


@pytest.mark.parametrize(
    "url", ["/relative", "ftp://example.com/", "http:///nohost", "http://exa mple.com/"]
)
def test_split_url_refuses_what_is_not_an_absolute_http_url(url: str) -> None:
    with pytest.raises(PurgeError):
        split_url(url)


def test_prefix_key_is_a_key_prefix() -> None:
    assert prefix_key("http://example.com/blog/") == "http://example.com/blog/"
    assert prefix_key("https://example.com:8080/b") == "http://example.com:8080/b"


def test_purge_message_takes_urls_prefix_tag_and_cache() -> None:
    body = json.dumps({"urls": ["http://a.example/x"], "tag": "t", "cache": "main"})
    msg = purge_message(body.encode())
    assert msg == {
        "type": "purge",
        "urls": ["http://a.example/x"],
        "prefix": "",
        "tag": "t",
        "cache": "main",
    }


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"not json", "must be JSON"),
        (b"[]", "JSON object"),
        (b"{}", "nothing to purge"),
        (b'{"urls": "http://a/"}', "list of URLs"),
        (b'{"urls": ["nope"]}', "absolute URL"),
        (b'{"prefix": "nope"}', "absolute URL"),
        (b'{"tag": 5}', "strings"),
        (b'{"tag": "t", "cache": 3}', "[cache.NAME]"),
    ],
)
def test_purge_message_errors_say_what_is_wrong(body: bytes, fragment: str) -> None:
    with pytest.raises(PurgeError, match=None) as info:
        purge_message(body)
    assert fragment in str(info.value)

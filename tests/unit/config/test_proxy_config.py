"""The proxy route action and [pool.NAME] tables: values, defaults, located errors."""

from __future__ import annotations

import textwrap

import pytest

from frontdesk.config import Config, load_text
from frontdesk.config.proxy import split_upstream
from frontdesk.errors import ConfigError

GOOD = """\
[server]
trusted_proxies = ["10.1.2.3/8", "::1"]

[[route]]
match = { path = "/api/" }
proxy = { pool = "app", strip_prefix = "/api", host_header = "upstream", max_body_size = "2GB" }

[[route]]
match = { path = "/old/" }
proxy = { pool = "app", replace_prefix = { from = "/old/", to = "/new/" } }

[[route]]
proxy = { pool = "app", rewrite = { regex = '^/u/(\\d+)$', to = '/users/\\1' } }

[pool.app]
servers = ["127.0.0.1:9001", "[::1]:9002", "unix:/run/app.sock"]
connect_timeout = "2s"
read_timeout = "30s"
keepalive = 8
retries = 1
"""


def test_design_md_spelling_and_values() -> None:
    config = load_text(GOOD, "f.toml")
    assert config.server.trusted_proxies == ("10.0.0.0/8", "::1/128")
    api, old, rx = config.routes
    assert api.proxy is not None and api.proxy.pool == "app"
    assert api.proxy.strip_prefix == "/api" and api.proxy.host_header == "upstream"
    assert api.proxy.max_body_size == 2 * 1024**3
    assert old.proxy is not None and old.proxy.replace_prefix is not None
    assert (old.proxy.replace_prefix.from_, old.proxy.replace_prefix.to) == ("/old/", "/new/")
    assert rx.proxy is not None and rx.proxy.rewrite is not None
    assert rx.proxy.rewrite.to == "/users/\\1"
    pool = config.pools["app"]
    assert [s.address for s in pool.servers] == [
        "127.0.0.1:9001",
        "[::1]:9002",
        "unix:/run/app.sock",
    ]
    assert [s.weight for s in pool.servers] == [1, 1, 1]
    assert pool.balance == "p2c" and pool.hash is None and pool.sticky is None
    assert (pool.connect_timeout, pool.read_timeout, pool.keepalive, pool.retries) == (
        2.0,
        30.0,
        8,
        1,
    )
    assert pool.idle_timeout == 60.0 and pool.max_connections == 0
    assert [split_upstream(s.address) for s in pool.servers] == [
        ("127.0.0.1", 9001),
        ("::1", 9002),
        "/run/app.sock",
    ]
    assert Config.model_validate_json(config.to_json()) == config


BAD = [
    (
        '[[route]]\nproxy = { pool = "ap" }\n[pool.app]\nservers = ["a:1"]',
        "route[0].proxy.pool",
        2,
        "no pool 'ap'; did you mean 'app'?",
    ),
    ('[[route]]\nproxy = { pool = "x" }', "route[0].proxy.pool", 2, "add a [pool.x] table"),
    ("[pool.a]\nservers = []", "pool.a.servers", 2, "must not be empty"),
    ('[pool.a]\nservers = ["nohost"]', "pool.a.servers[0]", 2, 'expected "host:port"'),
    ('[pool.a]\nservers = ["unix:rel.sock"]', "pool.a.servers[0]", 2, "must be absolute"),
    ('[pool.a]\nservers = ["a:1", "a:1"]', "pool.a.servers", 2, "listed twice"),
    ('[pool.a]\nservers = ["a:1"]\nbalance = "fastest"', "pool.a.balance", 3, "'p2c'"),
    ('[pool.a]\nservers = ["a:1"]\nbalance = "hash"', "pool.a", 1, 'needs hash = "client"'),
    ('[pool.a]\nservers = ["a:1"]\nhash = "path"', "pool.a", 1, 'only used with balance = "hash"'),
    (
        '[pool.a]\nservers = ["a:1"]\nbalance = "hash"\nhash = "header"',
        "pool.a.hash",
        4,
        "needs a :NAME",
    ),
    (
        '[pool.a]\nservers = ["a:1", { address = "b:1", weight = 0 }]',
        "pool.a.servers[1].weight",
        2,
        ">= 1",
    ),
    ('[pool.a]\nservers = [{ address = "nohost" }]', "pool.a.servers[0].address", 2, "host:port"),
    ('[pool.a]\nservers = ["a:1", { address = "a:1" }]', "pool.a.servers", 2, "listed twice"),
    (
        '[pool.a]\nservers = ["a:1"]\nsticky = { cookie = "x" }',
        "pool.a.sticky.secret",
        3,
        "required",
    ),
    ('[pool.a]\nservers = ["a:1"]\nretry_budget = 2', "pool.a.retry_budget", 3, "<= 1"),
    (
        '[pool.a]\nservers = ["a:1"]\nhealth = { expect_status = "abc" }',
        "pool.a.health.expect_status",
        3,
        "200-399",
    ),
    (
        '[pool.a]\nservers = ["a:1"]\nhealth = { passive = { base = "60s", max = "10s" } }',
        "pool.a.health.passive",
        3,
        "at least base",
    ),
    ('[pool.a]\nservers = ["a:1"]\nretries = 99', "pool.a.retries", 3, "must be <= 10"),
    ('[pool.a]\nservers = ["a:1"]\nread_timeout = "0s"', "pool.a.read_timeout", 3, "> 0"),
    (
        '[[route]]\nproxy = { pool = "a", strip_prefix = "/x", rewrite = { regex = "a", to = "/" } }',  # noqa: E501
        "route[0].proxy",
        2,
        "at most one of strip_prefix, replace_prefix, rewrite",
    ),
    (
        "[[route]]\nproxy = { pool = 'a', rewrite = { regex = '^/(a)', to = '/\\2' } }",
        "route[0].proxy.rewrite",
        2,
        "group '2'",
    ),
    (
        '[[route]]\nproxy = { pool = "a", strip_prefix = "x" }',
        "route[0].proxy.strip_prefix",
        2,
        '"/"',
    ),
    ('[server]\ntrusted_proxies = ["10.0.0.0/33"]', "server.trusted_proxies[0]", 2, "CIDR"),
    (
        '[pool.a]\nservers = [{ address = "unix:/a.sock", resolve = true }]',
        "pool.a.servers[0]",
        2,
        "resolve = true needs",
    ),
    (
        '[pool.a]\nservers = [{ address = "a:1", resolve = "yes" }]',
        "pool.a.servers[0].resolve",
        2,
        "bool",
    ),
    ('[pool.a]\nservers = ["a:1"]\nresolve_interval = "0s"', "pool.a.resolve_interval", 3, "> 0"),
]


@pytest.mark.parametrize(("text", "key", "line", "fragment"), BAD)
def test_bad_proxy_config(text: str, key: str, line: int, fragment: str) -> None:
    if key != "route[0].proxy.pool" and "[pool." not in text:
        text += '\n[pool.a]\nservers = ["a:1"]'  # the route's pool exists
    with pytest.raises(ConfigError) as info:
        load_text(textwrap.dedent(text), "f.toml")
    issues = info.value.issues
    assert len(issues) == 1, issues
    issue = issues[0]
    assert (issue.key, issue.line) == (key, line), issue
    assert fragment in issue.message, issue.message


def test_undefined_pool_reported_with_the_other_errors() -> None:
    text = '[[route]]\nproxy = { pool = "ap" }\n[pool.app]\nservers = ["a:1"]\nbalance = "x"\n'
    with pytest.raises(ConfigError) as info:
        load_text(text, "f.toml")
    assert [(i.key, i.line) for i in info.value.issues] == [
        ("route[0].proxy.pool", 2),
        ("pool.app.balance", 5),
    ]


def test_pool_balancing_keys() -> None:
    config = load_text(
        textwrap.dedent(
            """
            [pool.a]
            servers = ["127.0.0.1:9001", { address = "127.0.0.1:9002", weight = 3 }]
            balance = "hash"
            hash = "header:X-User"
            sticky = { cookie = "srv", secret = "0123456789abcdef" }
            slow_start = "30s"
            retry_budget = 0.1
            health = { passive = { consecutive = 3, base = "10s", max = "1m" }, path = "/hz", expect_status = "200-299", interval = "2s" }
            """  # noqa: E501
        ),
        "f.toml",
    )
    pool = config.pools["a"]
    assert [(s.address, s.weight) for s in pool.servers] == [
        ("127.0.0.1:9001", 1),
        ("127.0.0.1:9002", 3),
    ]
    assert (pool.balance, pool.hash, pool.slow_start, pool.retry_budget) == (
        "hash",
        "header:X-User",
        30.0,
        0.1,
    )
    assert pool.sticky is not None and pool.sticky.cookie == "srv"
    passive = pool.health.passive
    assert (passive.consecutive, passive.base, passive.max) == (3, 10.0, 60.0)
    assert pool.health.expect_status == (200, 299) and pool.health.path == "/hz"
    assert Config.model_validate_json(config.to_json()) == config


def test_servers_to_resolve() -> None:
    from frontdesk.config.proxy import Pool

    pool = Pool.model_validate(
        {"servers": ["127.0.0.1:1", {"address": "app.internal:8000", "resolve": True}]}
    )
    assert [(s.address, s.resolve) for s in pool.servers] == [
        ("127.0.0.1:1", False),
        ("app.internal:8000", True),
    ]
    assert pool.resolve_interval == 30.0
    assert Pool.model_validate({"servers": [{"address": "a:1", "resolve": True}]}).balanced
    assert not Pool.model_validate({"servers": ["a:1"]}).balanced
    with pytest.raises(ValueError, match="resolve = true needs a"):
        Pool.model_validate({"servers": [{"address": "unix:/run/a.sock", "resolve": True}]})

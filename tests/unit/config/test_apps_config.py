"""[app.NAME] tables, the pools they fill, and the health timeout default."""

from __future__ import annotations

from pathlib import Path

import pytest

from frontdesk.config.load import load_text
from frontdesk.config.model import Config
from frontdesk.errors import ConfigError


def test_health_timeout_defaults_to_a_shorter_interval() -> None:
    config = load_text(
        '[pool.p]\nservers = ["a:1", "b:2"]\nhealth = { path = "/", interval = "500ms" }\n',
        "f.toml",
    )
    assert config.pools["p"].health.timeout == 0.5
    # The default stays 2s when the interval is longer; an explicit conflict is an error.
    assert (
        load_text('[pool.p]\nservers = ["a:1", "b:2"]\n', "f.toml").pools["p"].health.timeout == 2
    )
    with pytest.raises(ConfigError, match=r"timeout \(1s\) must not exceed interval \(0.5s\)"):
        load_text(
            '[pool.p]\nservers = ["a:1", "b:2"]\n'
            'health = { path = "/", interval = "500ms", timeout = "1s" }\n',
            "f.toml",
        )


def test_an_app_makes_its_pool_with_its_health_check(tmp_path: Path) -> None:
    text = """
[[route]]
proxy = { pool = "web" }

[app.web]
command = "python app.py"
instances = 3
health = { path = "/healthz", interval = "1s" }
"""
    config = load_text(text, str(tmp_path / "f.toml"))
    app = config.apps["web"]
    assert app.pool == "web" and app.instances == 3 and app.cwd == str(tmp_path)
    pool = config.pools["web"]
    assert pool.servers == () and pool.balanced
    assert pool.health.path == "/healthz" and pool.health.interval == 1.0
    again = Config.model_validate_json(config.to_json())  # as a worker gets it
    assert again == config and again.pools["web"].balanced


def test_an_app_joins_a_declared_pool_beside_its_servers() -> None:
    text = """
[pool.site]
servers = ["127.0.0.1:9001"]
balance = "round_robin"

[app.web]
command = ["python", "app.py"]
pool = "site"
bind = "unix"
"""
    config = load_text(text, "f.toml")
    pool = config.pools["site"]
    assert pool.balance == "round_robin" and pool.balanced  # one server, but app-fed
    assert config.app_pools() == {"site": ["web"]}
    assert config.apps["web"].bind == "unix"


def test_unix_servers_in_a_pool() -> None:
    config = load_text('[pool.p]\nservers = ["unix:/run/app.sock", "127.0.0.1:1"]\n', "f.toml")
    assert config.pools["p"].servers[0].address == "unix:/run/app.sock"


def test_starting_page_must_exist(tmp_path: Path) -> None:
    (tmp_path / "starting.html").write_text("<p>wait</p>")
    config = load_text('[server]\nstarting_page = "starting.html"\n', str(tmp_path / "f.toml"))
    assert config.server.starting_page == str(tmp_path / "starting.html")
    with pytest.raises(ConfigError, match="does not exist"):
        load_text('[server]\nstarting_page = "nope.html"\n', str(tmp_path / "f.toml"))

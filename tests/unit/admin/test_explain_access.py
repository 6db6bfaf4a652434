"""`frontdesk explain` names a route's access checks and rate limit, and says what a
request without credentials gets; a route without them reports none."""

from __future__ import annotations

from pathlib import Path

from frontdesk.admin.explain import explain, parse_request, render_text
from frontdesk.config.load import load_text

CONFIG = """
[[route]]
match = {{ path = "/downloads/" }}
access = "staff"
rate_limit = {{ rate = 5, burst = 10 }}
static = {{ root = "{root}" }}

[[route]]
match = {{ path = "/links/" }}
auth = "links"
static = {{ root = "{root}" }}

[[route]]
static = {{ root = "{root}" }}

[access.staff]
htpasswd = "{root}/users"
allow = ["127.0.0.0/8", "::1/128"]

[auth.links]
signed = {{ keys = ["0123456789abcdef0123456789abcdef"] }}
"""


def config(tmp_path: Path):
    (tmp_path / "users").write_text(
        "u:$2b$10$5yMwC3VGHlNbNHeEaR6t0O1b5Mi2jKz9Bx74HVUBIjPf5yQtmlBEi\n"
    )
    return load_text(CONFIG.format(root=tmp_path), str(tmp_path / "f.toml"))


def test_basic_auth_address_list_and_rate_limit_are_explained(tmp_path: Path) -> None:
    cfg = config(tmp_path)
    e = explain(cfg, parse_request("GET http://x/downloads/a.pdf", []))
    access = e.layers["access"]
    assert access[0] == "rule 'staff'"
    assert any("allow 127.0.0.0/8, ::1/128" in line and "403" in line for line in access)
    assert any("Basic auth" in line and "401" in line and "has no" in line for line in access)
    (limit,) = e.layers["rate limit"]
    assert "5 requests/s per address, burst 10" in limit and "429" in limit
    with_auth = explain(
        cfg, parse_request("GET http://x/downloads/a.pdf", ["Authorization: Basic dTp1"])
    )
    assert any("carries Authorization" in line for line in with_auth.layers["access"])


def test_the_design_spelling_auth_is_explained_too(tmp_path: Path) -> None:
    e = explain(config(tmp_path), parse_request("GET http://x/links/map.svg", []))
    assert any("signed URL" in line and "410" in line for line in e.layers["access"])
    assert "rate limit" not in e.layers


def test_a_route_without_rules_reports_none(tmp_path: Path) -> None:
    e = explain(config(tmp_path), parse_request("GET http://x/other", []))
    assert e.layers == {}
    assert "none reported" in render_text(e)

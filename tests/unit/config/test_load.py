import textwrap
from pathlib import Path

import pytest

from frontdesk.config import (
    Config,
    apply_env,
    default_config,
    load_file,
    load_text,
)
from frontdesk.config.locate import locate
from frontdesk.errors import ConfigError, ConfigIssue

GOOD = """\
[server]
listen = ["127.0.0.1:8080", "[::1]:8080", ":9000", 9001]
workers = 4
access_log = "off"
access_log_format = "json"
max_body_size = "0"
header_timeout = "5s"
drain_timeout = "5m"

[[route]]
name = "health"
match = { exact = "/healthz", method = ["GET", "HEAD"] }
respond = { status = 200, body = "ok", headers = { "Content-Type" = "text/plain" } }

[[route]]
match = { host = ["Example.com", "*.example.com"], header = { "X-Env" = "staging" } }
redirect = { to = "https://{host}{uri}", status = 308 }

[[route]]
match.regex = "^/api/v[0-9]+/"
redirect = "https://api.example.com{path}?{query}"
"""


def errors(text: str) -> list[ConfigIssue]:
    with pytest.raises(ConfigError) as info:
        load_text(textwrap.dedent(text), "f.toml")
    return info.value.issues


def one_error(text: str) -> ConfigIssue:
    issues = errors(text)
    assert len(issues) == 1, issues
    return issues[0]


def test_good_config() -> None:
    config = load_text(GOOD, "f.toml")
    s = config.server
    assert s.listen == ("127.0.0.1:8080", "[::1]:8080", ":9000", ":9001")
    assert config.listen_addresses() == [
        ("127.0.0.1", 8080),
        ("::1", 8080),
        ("", 9000),
        ("", 9001),
    ]
    assert (s.workers, s.access_log, s.access_log_format) == (4, "off", "json")
    assert (s.max_body_size, s.header_timeout, s.drain_timeout) == (0, 5.0, 300.0)
    assert s.max_header_size == 32 * 1024 and s.keepalive_timeout == 15.0
    health, host, api = config.routes
    assert health.action == "respond" and health.match.exact == "/healthz"
    assert health.match.method == ("GET", "HEAD")
    assert host.match.host == ("example.com", "*.example.com")
    assert host.match.header == {"x-env": "staging"}
    assert host.redirect is not None and host.redirect.status == 308
    assert api.redirect is not None and api.redirect.status == 302
    assert api.match.regex == "^/api/v[0-9]+/"


def test_defaults_and_helpers() -> None:
    config = load_text("", "empty.toml")
    assert config == Config()
    assert config.server.listen == ("0.0.0.0:8080",)
    assert config.routes == ()
    assert config.resolved_workers(cpu_count=3) == 3
    assert config.resolved_workers() >= 1
    assert config.pid_file_path().endswith("frontdesk-8080.pid")
    assert load_text('[server]\nworkers = "2"', "f").resolved_workers(cpu_count=8) == 2


def test_single_listen_string_and_port() -> None:
    assert load_text('[server]\nlisten = "localhost:81"', "f").server.listen == ("localhost:81",)
    assert load_text("[server]\nlisten = 82", "f").server.listen == (":82",)
    assert load_text('[server]\nlisten = "83"', "f").server.listen == (":83",)


def test_json_round_trip() -> None:
    config = load_text(GOOD, "f.toml")
    assert Config.model_validate_json(config.to_json()) == config
    assert Config.model_validate(config.model_dump(mode="json")) == config
    assert Config.model_validate(config.model_dump(mode="json", by_alias=True)) == config
    default = default_config()
    assert Config.model_validate_json(default.to_json()) == default


def test_default_config() -> None:
    config = default_config()
    assert config.listen_addresses() == [("0.0.0.0", 8080)]
    (route,) = config.routes
    assert route.match.path is None and route.match.exact is None
    assert route.respond is not None and route.respond.status == 200
    assert route.respond.headers["Content-Type"].startswith("text/html")
    body = route.respond.body
    assert "frontdesk is running" in body
    assert "frontdesk check -c" in body and "frontdesk serve -c" in body


# (config text, expected key, expected line, message fragment)
BAD = [
    ('[server]\nlistn = ":80"', "server.listn", 2, "did you mean 'listen'?"),
    ('[servr]\nlisten = ":80"', "servr", 1, "did you mean 'server'?"),
    ("[[route]]\nmatch = { pth = '/' }\nrespond = {}", "route[0].match.pth", 2, "'path'?"),
    ("[[route]]\nrespond = { stauts = 200 }", "route[0].respond.stauts", 2, "'status'?"),
    ("[[route]]\ncache = 'main'\nrespond = {}", "route[0].cache", 2, "add a [cache.main] table"),
    (
        "[cache.main]\n[[route]]\ncache = 'main'\nrespond = {}",
        "route[0].cache",
        3,
        "only a route with `proxy`",
    ),
    ("[cache.main]\nmemory = 0", "cache.main", 1, "at least one tier"),
    ("[cache.main]\nmemroy = '1MB'", "cache.main.memroy", 2, "did you mean 'memory'?"),
    ("[cache.main]\npurge_from = ['nope']", "cache.main.purge_from[0]", 2, "10.0.0.0/8"),
    ("[app.web]\ncommand = ''", "app.web.command", 2, "must not be empty"),
    ("[app.web]\ncommand = 'x'\ninstances = 0", "app.web.instances", 3, "must be >= 1"),
    ("[app.web]\ncommand = 'x'\ncwd = 'nope'", "app.web.cwd", 3, "does not exist"),
    ("[app.web]\ncommand = 'x'\nbind = 'tcp'", "app.web.bind", 3, "expected 'port' or 'unix'"),
    ("[app.web]\ncommand = 'x'\ninstnces = 2", "app.web.instnces", 3, "mean 'instances'?"),
    ("[app.web]\ncommand = 'x \"y'", "app.web.command", 2, "cannot split the command"),
    ("[app.'w x']\ncommand = 'x'", "", None, "app name 'w x'"),
    ("[pool.app]\nbalance = 'p2c'", "pool.app", 1, "list at least one server"),
    ("[pool.app]\nservers = []", "pool.app.servers", 2, "list at least one server"),
    (
        "[pool.app]\nservers = ['a:1', 'b:2']\nhealth = { interval = '1s', timeout = '2s' }",
        "pool.app.health",
        3,
        "timeout (2s) must not exceed interval (1s)",
    ),
    ('[server]\nlisten = ["a:1", "b:99999"]', "server.listen[1]", 2, "port must be 0-65535"),
    ('[server]\nlisten = ["nope"]', "server.listen[0]", 2, 'expected "host:port"'),
    ("[server]\nlisten = []", "server.listen", 2, "must not be empty"),
    ('[server]\nlisten = [":80", 80]', "server.listen", 2, "listed twice"),
    ("[server]\nworkers = 0", "server.workers", 2, '"auto" or a whole number'),
    ('[server]\nworkers = "many"', "server.workers", 2, '"auto" or a whole number'),
    ('[server]\nmax_body_size = "12XB"', "server.max_body_size", 2, 'invalid size "12XB"'),
    ("[server]\nmax_uri_size = -1", "server.max_uri_size", 2, "must not be negative"),
    ('[server]\nheader_timeout = "soon"', "server.header_timeout", 2, "invalid duration"),
    ('[server]\nheader_timeout = "0s"', "server.header_timeout", 2, "must be > 0"),
    ("[server]\nmax_headers = true", "server.max_headers", 2, "whole number"),
    ("[server]\nmax_headers = 0", "server.max_headers", 2, "must be >= 1"),
    ('[server]\naccess_log_format = "xml"', "server.access_log_format", 2, "'combined'"),
    ('[server]\nserver_header = "a\\nb"', "server.server_header", 2, "CR, LF or NUL"),
    ("server = 5", "server", 1, "expected a table"),
    ("route = 5", "route", 1, "expected an array"),
    ("[[route]]\nname = 'x'", "route[0]", 1, "exactly one action"),
    (
        "[[route]]\nrespond = {}\nredirect = 'https://x/'",
        "route[0]",
        1,
        "got respond and redirect",
    ),
    (
        "[[route]]\nmatch = { path = '/a', exact = '/b' }\nrespond = {}",
        "route[0].match",
        2,
        "at most one of path, exact, regex",
    ),
    ("[[route]]\nmatch = { path = 'a' }\nrespond = {}", "route[0].match.path", 2, 'start with "/"'),
    ("[[route]]\nmatch = { regex = '(' }\nrespond = {}", "route[0].match.regex", 2, "missing )"),
    (
        "[[route]]\nmatch = { method = 'get' }\nrespond = {}",
        "route[0].match.method[0]",
        2,
        "did you mean 'GET'",
    ),
    ("[[route]]\nmatch = { host = 'a b' }\nrespond = {}", "route[0].match.host[0]", 2, "host"),
    ("[[route]]\nrespond = { status = 99 }", "route[0].respond.status", 2, "must be >= 100"),
    (
        "[[route]]\nrespond = { headers = { 'Bad Name' = 'x' } }",
        "route[0].respond.headers",
        2,
        "invalid header name 'Bad Name'",
    ),
    (
        '[[route]]\nrespond = { headers = { "X" = "a\\r\\nb" } }',
        "route[0].respond.headers",
        2,
        "CR, LF or NUL",
    ),
    ("[[route]]\nredirect = 'https://{hots}/'", "route[0].redirect.to", 2, "unknown placeholder"),
    ("[[route]]\nredirect = 'https://{host!r}/'", "route[0].redirect.to", 2, "{host!r}"),
    ("[[route]]\nredirect = 'https://x/}'", "route[0].redirect.to", 2, "Single '}'"),
    ("[[route]]\nredirect = { status = 301 }", "route[0].redirect.to", 2, "required key"),
    (
        "[[route]]\nredirect = { to = '/x', status = 300 }",
        "route[0].redirect.status",
        2,
        "expected 301, 302, 303, 307 or 308",
    ),
]


@pytest.mark.parametrize(("text", "key", "line", "fragment"), BAD)
def test_bad_config(text: str, key: str, line: int, fragment: str) -> None:
    issue = one_error(text)
    assert (issue.file, issue.key, issue.line) == ("f.toml", key, line)
    assert fragment in issue.message


def test_every_error_reported_at_once_in_line_order() -> None:
    issues = errors(
        """\
        [[route]]
        match = { path = "/a" }
        respond = { status = 700 }

        [server]
        workers = 0
        listn = 1

        [[route]]
        redirect = "/{nope}"
        """
    )
    assert [(i.key, i.line) for i in issues] == [
        ("route[0].respond.status", 3),
        ("server.workers", 6),
        ("server.listn", 7),
        ("route[1].redirect.to", 10),
    ]
    assert str(issues[0]).startswith("f.toml:3: route[0].respond.status: ")


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("[server]\nlisten = [\n", 3),
        ("[server]\nworkers = 1\nworkers = 2\n", 3),
        ("[server\n", 1),
        ('a = "unterminated\n', 1),
    ],
)
def test_toml_syntax_error_line(text: str, line: int) -> None:
    issue = one_error(text)
    assert issue.key == "" and issue.line == line
    assert issue.message.startswith("TOML syntax: ") and "(at line" not in issue.message


def test_load_file(tmp_path: Path) -> None:
    path = tmp_path / "frontdesk.toml"
    path.write_text(GOOD, encoding="utf-8")
    assert load_file(path) == load_text(GOOD, "other")
    path.write_text("[server]\nlistn = 1\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_file(path)
    assert str(info.value) == f"{path}:2: server.listn: unknown key 'listn'; did you mean 'listen'?"


def test_load_file_unreadable_or_not_utf8(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_file(tmp_path / "missing.toml")
    path = tmp_path / "latin1.toml"
    path.write_bytes(b"[server]\naccess_log = '\xe9'\n")
    with pytest.raises(ConfigError) as info:
        load_file(path)
    assert info.value.issues[0].line == 2


def test_port_env_override() -> None:
    config = load_text('[server]\nlisten = ["127.0.0.1:80", "[::1]:81", ":82"]', "f")
    assert apply_env(config, {}) is config
    assert apply_env(config, {"PORT": ""}) is config
    moved = apply_env(config, {"PORT": "5000"})
    assert moved.server.listen == ("127.0.0.1:5000", "[::1]:5000", ":5000")
    assert Config.model_validate_json(moved.to_json()) == moved
    assert apply_env(
        load_text('[server]\nlisten = [":1", ":2"]', "f"), {"PORT": "7"}
    ).server.listen == (":7",)


@pytest.mark.parametrize("bad", ["abc", "-1", "70000", "80.5"])
def test_port_env_invalid(bad: str) -> None:
    with pytest.raises(ConfigError) as info:
        apply_env(Config(), {"PORT": bad})
    (issue,) = info.value.issues
    assert issue.key == "PORT" and "$PORT" in issue.message


def test_locate_handles_tables_arrays_and_multiline_strings() -> None:
    text = textwrap.dedent(
        '''\
        [[route]]
        name = """
        [[route]]
        x = 1
        """
        match.path = "/a"
        respond = { headers = { "A" = "b" }, body = 'x' }

        [[route]]
        [route.match]
        host = [
          "a",
          "b",
        ]
        '''
    )
    assert locate(text, ("route", 0)) == 1
    assert locate(text, ("route", 0, "match", "path")) == 6
    assert locate(text, ("route", 0, "respond", "headers", "A")) == 7
    assert locate(text, ("route", 0, "respond", "status")) == 7
    assert locate(text, ("route", 1)) == 9
    assert locate(text, ("route", 1, "match")) == 10
    assert locate(text, ("route", 1, "match", "host", 1)) == 13
    assert locate(text, ("server", "listen")) is None

"""The `static` table: defaults, the documented spelling, roots and errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from frontdesk.config import load_file, load_text
from frontdesk.errors import ConfigError


def test_documented_spelling(tmp_path: Path) -> None:
    (tmp_path / "public").mkdir()
    cfg = tmp_path / "frontdesk.toml"
    cfg.write_text(
        '[[route]]\nmatch = { path = "/static/" }\n'
        'static = { root = "public", cache_control = "public, max-age=31536000, immutable" }\n'
    )
    static = load_file(cfg).routes[0].static
    assert static is not None
    # Relative roots are relative to the config file's directory, not the cwd.
    assert static.root == str(tmp_path / "public")
    assert static.cache_control == "public, max-age=31536000, immutable"
    assert static.index == ("index.html",)
    assert static.listing is False and static.dotfiles == "hide"


def test_missing_root_is_an_error_with_key_and_line(tmp_path: Path) -> None:
    cfg = tmp_path / "f.toml"
    cfg.write_text('[server]\nworkers = 1\n\n[[route]]\nstatic = { root = "nope" }\n')
    with pytest.raises(ConfigError) as exc:
        load_file(cfg)
    (issue,) = exc.value.issues
    assert issue.key == "route[0].static.root"
    assert issue.line == 5
    assert "does not exist" in issue.message


@pytest.mark.parametrize(
    "table, key",
    [
        ('{ root = "R", index = "/abs.html" }', "route[0].static.index[0]"),
        ('{ root = "R", fallback = "../x" }', "route[0].static.fallback"),
        ('{ root = "R", symlinks = "sometimes" }', "route[0].static.symlinks"),
        ('{ root = "R", precompressed = ["lzma"] }', "route[0].static.precompressed"),
        ('{ root = "R", types = { "wasm" = "application/wasm" } }', "route[0].static.types"),
        ('{ root = "R", default_type = "nonsense" }', "route[0].static.default_type"),
        ('{ root = "R", max_ranges = 0 }', "route[0].static.max_ranges"),
        ('{ root = "R", cache_control = "a\\nb" }', "route[0].static.cache_control"),
        ('{ root = "R", listng = true }', "route[0].static.listng"),
    ],
)
def test_bad_values_name_the_key(tmp_path: Path, table: str, key: str) -> None:
    text = "[[route]]\nstatic = " + table.replace('"R"', '"' + str(tmp_path) + '"') + "\n"
    with pytest.raises(ConfigError) as exc:
        load_text(text, str(tmp_path / "x.toml"))
    assert [i.key for i in exc.value.issues] == [key]
    assert exc.value.issues[0].line == 2


def test_round_trip_through_json(tmp_path: Path) -> None:
    from frontdesk.config.model import Config

    config = load_text(f'[[route]]\nstatic = {{ root = "{tmp_path}" }}\n', "x.toml")
    assert Config.model_validate_json(config.to_json()) == config


def test_frontdesk_check_reports_a_missing_root(tmp_path: Path) -> None:
    import subprocess
    import sys

    cfg = tmp_path / "f.toml"
    cfg.write_text('[[route]]\nmatch = { path = "/s/" }\nstatic = { root = "public" }\n')
    done = subprocess.run(
        [sys.executable, "-m", "frontdesk", "check", "-c", str(cfg)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert f"{cfg}:3: route[0].static.root: directory" in done.stderr
    (tmp_path / "public").mkdir()
    ok = subprocess.run(
        [sys.executable, "-m", "frontdesk", "check", "-c", str(cfg)],
        capture_output=True,
        check=False,
    )
    assert ok.returncode == 0

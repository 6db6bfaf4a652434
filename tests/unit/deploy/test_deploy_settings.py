"""Deploy settings, config vars and the generated config's data (no server)."""

from __future__ import annotations

from pathlib import Path

import pytest

from frontdesk.deploy.configvars import parse_assignments, read_vars, write_vars
from frontdesk.deploy.generate import served_config
from frontdesk.deploy.layout import DeployDir, DeployError, DeploySettings, load_settings
from frontdesk.errors import ConfigError


def test_settings_defaults_and_errors_with_line(tmp_path: Path) -> None:
    f = tmp_path / "frontdesk-deploy.toml"
    f.write_text('branch = "main"\n')
    s = load_settings(f)
    assert (s.keep, s.listen, s.release_timeout) == (5, ("0.0.0.0:8080",), 600.0)
    f.write_text('branch = "main"\nkeep = 0\nlisten = "nowhere"\n')
    with pytest.raises(ConfigError) as info:
        load_settings(f)
    where = sorted(f"{i.line}:{i.key}" for i in info.value.issues)
    assert where == ["2:keep", "3:listen[0]"]


def test_assignments() -> None:
    assert parse_assignments(["A=1", "B=x=y", "C="]) == {"A": "1", "B": "x=y", "C": ""}
    for bad in (["A"], ["1A=2"], ["PORT=80"], ["A-B=1"], ["FRONTDESK_RELEASE=x"]):
        with pytest.raises(DeployError):
            parse_assignments(bad)


def test_config_vars_stored_private(tmp_path: Path) -> None:
    d = DeployDir.at(tmp_path)
    assert read_vars(d) == {}
    write_vars(d, {"SECRET": "s3"})
    assert read_vars(d) == {"SECRET": "s3"}
    assert (d.env_file.stat().st_mode & 0o777) == 0o600


def test_procfile_web_becomes_the_app_and_a_route(tmp_path: Path) -> None:
    d = DeployDir.at(tmp_path)
    tree = d.release_dir("r1")
    tree.mkdir(parents=True)
    (tree / "Procfile").write_text("web: python app.py\nworker: python w.py\n")
    settings = DeploySettings(listen=("127.0.0.1:9000",), web_instances=3)
    data, notes = served_config(d, "r1", settings, "abc", {"GREETING": "hi"})
    app = data["app"]["web"]
    assert app["command"] == "python app.py" and app["instances"] == 3
    assert app["pool"] == "web" and app["cwd"] == str(tree)
    env = app["env"]
    assert env["GREETING"] == "hi" and env["FRONTDESK_RELEASE"] == "r1"
    assert env["PATH"].startswith(str(d.venvs / "abc" / "bin") + ":")
    assert env["VIRTUAL_ENV"] == str(d.venvs / "abc")
    assert data["route"] == [{"name": "web", "proxy": {"pool": "web"}}]
    assert data["server"]["listen"] == ["127.0.0.1:9000"]
    assert any("worker" in n for n in notes)


def test_app_config_errors_name_the_apps_file(tmp_path: Path) -> None:
    d = DeployDir.at(tmp_path)
    tree = d.release_dir("r1")
    tree.mkdir(parents=True)
    (tree / "frontdesk.toml").write_text("[server]\nworkers = 1\n\nlisn = 1\n")
    with pytest.raises(ConfigError) as info:
        served_config(d, "r1", DeploySettings(), "", {})
    assert [str(i).split(": ")[0] for i in info.value.issues] == ["frontdesk.toml:4"]


def test_bad_procfile_line_is_reported_with_its_line(tmp_path: Path) -> None:
    d = DeployDir.at(tmp_path)
    tree = d.release_dir("r1")
    tree.mkdir(parents=True)
    (tree / "Procfile").write_text("web: a\noops\n")
    with pytest.raises(ConfigError) as info:
        served_config(d, "r1", DeploySettings(), "", {})
    assert str(info.value.issues[0]).startswith("Procfile:2: ")

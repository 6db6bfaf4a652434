"""The config a release is served with: the app's own frontdesk.toml, plus the deploy's.

What the deploy adds or decides:
- ``[server] listen`` and ``[admin] listen`` come from the deploy settings (the
  machine decides where to listen, not the pushed code; $PORT still applies);
- without an ``[app]`` table, the Procfile's ``web:`` line becomes ``[app.web]``
  (pool "web") and, when the app has no routes, one route sends everything to it;
- every ``[app.NAME]`` runs in the release directory (its `cwd`, when relative, is
  relative to it) with the release's virtualenv first on PATH, the config vars of
  `frontdesk config:set` and FRONTDESK_RELEASE in its environment. A new release or a
  changed config var therefore changes the apps' `cwd`/`env`, which is what makes
  the server's reload replace their instances (rolling, checked before traffic moves).

The app's own file is validated first, so its mistakes are reported with its own
name and lines (``frontdesk.toml:7: ...``); the generated file is validated again as
a whole before any switch.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

from frontdesk.config import load_file
from frontdesk.errors import ConfigError, ConfigIssue

from .layout import GENERATED_NAME, DeployDir, DeploySettings
from .procfile import Procfile, ProcfileError, parse_procfile
from .tomlgen import dumps

__all__ = ["APP_CONFIG", "read_procfile", "served_config", "app_environment", "write_served"]

APP_CONFIG = "frontdesk.toml"


def read_procfile(tree: Path) -> Procfile:
    path = tree / "Procfile"
    if not path.is_file():
        return Procfile({})
    try:
        return parse_procfile(path.read_text("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError([ConfigIssue("Procfile", "", None, "not valid UTF-8")]) from None
    except ProcfileError as exc:
        issue = ConfigIssue("Procfile", "", exc.line, str(exc).split(": ", 1)[1])
        raise ConfigError([issue]) from None


def check_app_config(tree: Path) -> dict[str, Any]:
    """The app's frontdesk.toml as data ({} when it has none), after a full validation
    whose errors name it as the pusher knows it: ``frontdesk.toml:LINE``."""
    path = tree / APP_CONFIG
    if not path.is_file():
        return {}
    try:
        load_file(path)
    except ConfigError as exc:
        prefix = str(path)
        issues = [
            ConfigIssue(APP_CONFIG if i.file == prefix else i.file, i.key, i.line, i.message)
            for i in exc.issues
        ]
        raise ConfigError(issues) from None
    data: dict[str, Any] = tomllib.loads(path.read_text("utf-8"))
    return data


def app_environment(
    d: DeployDir, release_id: str, venv_key: str, config_vars: dict[str, str]
) -> dict[str, str]:
    """What the deploy puts in the environment of the release's processes (on top of
    the app's own `env`)."""
    env = dict(config_vars)
    env["FRONTDESK_RELEASE"] = release_id
    if venv_key:
        venv = d.venvs / venv_key
        env["VIRTUAL_ENV"] = str(venv)
        env["PATH"] = f"{venv / 'bin'}{os.pathsep}{os.environ.get('PATH', os.defpath)}"
    return env


def served_config(
    d: DeployDir,
    release_id: str,
    settings: DeploySettings,
    venv_key: str,
    config_vars: dict[str, str],
) -> tuple[dict[str, Any], list[str]]:
    """The generated config for the release, as data, and notes for the push output."""
    tree = d.release_dir(release_id)
    data = check_app_config(tree)
    procfile = read_procfile(tree)
    notes = []
    server = dict(data.get("server", {}))
    server["listen"] = list(settings.listen)
    data["server"] = server
    data["admin"] = {**data.get("admin", {}), "listen": settings.admin}
    apps: dict[str, Any] = {name: dict(t) for name, t in data.get("app", {}).items()}
    if not apps and procfile.web:
        apps["web"] = {
            "command": procfile.web,
            "instances": settings.web_instances,
            "pool": "web",
        }
        if not data.get("route"):
            data["route"] = [{"name": "web", "proxy": {"pool": "web"}}]
        notes.append(f"Procfile web: {procfile.web} ({settings.web_instances} instances)")
    elif apps and procfile.web:
        notes.append(f"{APP_CONFIG} has [app] tables: the Procfile's web: line is not used")
    if procfile.others():
        notes.append(f"Procfile: {', '.join(procfile.others())} not run (only web and release)")
    extra = app_environment(d, release_id, venv_key, config_vars)
    for table in apps.values():
        table["env"] = {**table.get("env", {}), **extra}
        cwd = table.get("cwd")
        table["cwd"] = str(tree) if cwd is None else str(tree / cwd)
    if apps:
        data["app"] = apps
    return data, notes


def write_served(d: DeployDir, release_id: str, data: dict[str, Any]) -> Path:
    """Write the generated config into the release (0600: it holds the config vars)
    and validate it as a whole; ConfigError names the generated file's lines."""
    path = d.generated_config(release_id)
    header = (
        "# Generated by frontdesk deploy for release "
        f"{release_id}: the app's {APP_CONFIG},\n"
        "# plus the deploy's listen addresses, app directory, virtualenv and config vars.\n"
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(header + dumps(data))
    load_file(path)
    return path


__all__ += ["GENERATED_NAME", "check_app_config"]

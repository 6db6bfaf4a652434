"""A deploy directory: a bare git repository plus what the deploys keep beside it.

    DIR/                       the bare repository (HEAD, objects/, refs/, hooks/)
    DIR/frontdesk-deploy.toml  this directory's settings (branch, listen, keep, ...)
    DIR/hooks/pre-receive      runs `frontdesk deploy hook DIR` for every push
    DIR/releases/<id>/         one checked-out tree per release
    DIR/venvs/<key>/           virtualenvs, one per set of dependencies (shared)
    DIR/current                symlink to the live release (moved by the server)
    DIR/releases.json          release records and the order they went live
    DIR/env.json               config vars (`frontdesk config:set`), mode 0600
    DIR/deploy.lock            flock: one deploy, rollback or config change at a time
    DIR/server.json            how to reach `frontdesk serve --deploy DIR` (its admin API)

Nothing of the deploy's lives in the app's tree: a release directory is exactly the
pushed commit plus the generated config (``.frontdesk-deploy.toml``).
"""

from __future__ import annotations

import json
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, Field, ValidationError

from frontdesk.config.load import format_key
from frontdesk.config.locate import locate
from frontdesk.config.types import MODEL_CONFIG, Count, Duration, ListenAddress
from frontdesk.errors import ConfigError, ConfigIssue, FrontdeskError

__all__ = ["DeployDir", "DeploySettings", "GENERATED_NAME", "SETTINGS_NAME", "DeployError"]

SETTINGS_NAME = "frontdesk-deploy.toml"
GENERATED_NAME = ".frontdesk-deploy.toml"


class DeployError(FrontdeskError):
    """A deploy step that failed; the message is what the person pushing reads."""


def _listen_list(value: object) -> object:
    return (value,) if isinstance(value, str | int) else value


class DeploySettings(BaseModel):
    """``frontdesk-deploy.toml``: how this deploy directory deploys and serves. It belongs
    to the machine, not to the app, so a push cannot change it."""

    model_config = MODEL_CONFIG

    branch: Annotated[str, Field(min_length=1)] = "main"
    """The branch a push deploys; pushes to any other ref are refused. Default "main"."""

    listen: Annotated[
        tuple[ListenAddress, ...], BeforeValidator(_listen_list), Field(min_length=1)
    ] = ("0.0.0.0:8080",)
    """Where `frontdesk serve --deploy DIR` listens, whatever the app's frontdesk.toml
    says ($PORT, when set, still replaces the port). Default ["0.0.0.0:8080"]."""

    admin: str = ""
    """The server's admin API (`[admin] listen`), which pushes, rollbacks and config
    changes use to switch releases; "" for its default, a Unix socket named after the
    port. Default ""."""

    url: str = ""
    """The URL a successful push prints; "" for http://<this host's name>:<port>/.
    Default ""."""

    keep: Count = 5
    """Releases kept on disk; older ones are removed, except the live one and the
    previous one. Default 5."""

    python: str = ""
    """The interpreter that makes the releases' virtualenvs; "" for the one running
    frontdesk. Default ""."""

    web_instances: Count = 2
    """Instances of a Procfile `web:` command, when the app's frontdesk.toml has no
    ``[app]`` table. Default 2."""

    release_timeout: Annotated[Duration, Field(gt=0)] = 600.0
    """Longest the Procfile's `release:` command may run before the push fails.
    Default "10m"."""

    switch_timeout: Annotated[Duration, Field(gt=0)] = 300.0
    """Longest a switch (new instances started, checked, traffic moved, old drained)
    may take before the push gives up waiting. Default "5m"."""

    lock_timeout: Duration = 600.0
    """How long a push waits for another deploy to finish before it is refused.
    Default "10m"."""


@dataclass(frozen=True)
class DeployDir:
    """The paths of one deploy directory."""

    root: Path

    @classmethod
    def at(cls, path: str | os.PathLike[str]) -> DeployDir:
        return cls(Path(os.path.abspath(path)))

    @property
    def settings_file(self) -> Path:
        return self.root / SETTINGS_NAME

    @property
    def hook_file(self) -> Path:
        return self.root / "hooks" / "pre-receive"

    @property
    def releases(self) -> Path:
        return self.root / "releases"

    @property
    def venvs(self) -> Path:
        return self.root / "venvs"

    @property
    def current(self) -> Path:
        return self.root / "current"

    @property
    def state_file(self) -> Path:
        return self.root / "releases.json"

    @property
    def env_file(self) -> Path:
        return self.root / "env.json"

    @property
    def lock_file(self) -> Path:
        return self.root / "deploy.lock"

    @property
    def server_file(self) -> Path:
        return self.root / "server.json"

    def release_dir(self, release_id: str) -> Path:
        return self.releases / release_id

    def generated_config(self, release_id: str) -> Path:
        return self.release_dir(release_id) / GENERATED_NAME

    def is_deploy_dir(self) -> bool:
        return self.settings_file.is_file()

    def live_id(self) -> str | None:
        """The live release's id, from the `current` symlink; None before the first."""
        try:
            return os.path.basename(os.readlink(self.current))
        except OSError:
            return None

    def settings(self) -> DeploySettings:
        return load_settings(self.settings_file)

    def read_json(self, path: Path, default: Any) -> Any:
        try:
            return json.loads(path.read_text("utf-8"))
        except FileNotFoundError:
            return default
        except (OSError, ValueError) as exc:
            raise DeployError(f"{path}: cannot read: {exc}") from None

    def write_json(self, path: Path, data: Any, mode: int = 0o644) -> None:
        """Write atomically: a reader sees the old file or the new one, never half."""
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=2)
            f.write("\n")
        os.replace(tmp, path)

    def point_current(self, release_id: str) -> None:
        """Move `current` to the release atomically (a new link renamed over the old)."""
        tmp = self.root / f".current.{os.getpid()}.tmp"
        try:
            os.remove(tmp)
        except FileNotFoundError:
            pass
        os.symlink(os.path.join("releases", release_id), tmp)
        os.replace(tmp, self.current)


def load_settings(path: Path) -> DeploySettings:
    """Read and validate the settings file; errors name file:line and key like the config."""
    name = str(path)
    try:
        text = path.read_text("utf-8")
    except OSError as exc:
        raise ConfigError([ConfigIssue(name, "", None, f"cannot read: {exc.strerror}")]) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([ConfigIssue(name, "", None, f"TOML syntax: {exc}")]) from None
    try:
        return DeploySettings.model_validate(data)
    except ValidationError as exc:
        issues = [
            ConfigIssue(
                name,
                format_key(e["loc"]),
                locate(text, e["loc"]),
                str(e["msg"]).removeprefix("Value error, ").replace("Input should be", "expected"),
            )
            for e in exc.errors()
        ]
        raise ConfigError(issues) from None

"""Release records: what was pushed, what went live in which order, what to remove.

The pure part decides (a release's state, which releases to prune, where a rollback
goes); ``ReleaseLog`` reads and writes ``releases.json`` under the deploy lock. The
live release itself is the ``current`` symlink, which only the server moves, after a
switch it made succeeded: so ``live`` here always says what is really served.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

from .layout import DeployDir, DeployError

__all__ = ["Release", "ReleaseLog", "release_id", "states", "to_prune", "rollback_target"]

ZERO_SHA = "0" * 40


@dataclass
class Release:
    """One push that got as far as a checkout."""

    id: str
    sha: str
    subject: str
    time: float  # seconds since the epoch, when the push began
    ok: bool = False  # built and switched to at least once
    reason: str = ""  # why it failed, for `frontdesk releases`
    venv: str = ""  # the virtualenv's key under venvs/, "" when none was made


def release_id(sha: str, when: float, taken: set[str]) -> str:
    """`<UTC time>-<short sha>`: sorts by time, and says which commit at a glance."""
    base = time.strftime("%Y%m%d-%H%M%S", time.gmtime(when)) + "-" + sha[:7]
    candidate, n = base, 2
    while candidate in taken:  # the same commit pushed twice within one second
        candidate, n = f"{base}.{n}", n + 1
    return candidate


def states(releases: list[Release], history: list[str], live: str | None) -> dict[str, str]:
    """Each release's state: live, previous (where `rollback` goes by default), failed,
    or retired (went live once, kept for a rollback by id)."""
    previous = rollback_target(history, live)
    out = {}
    for r in releases:
        if r.id == live:
            out[r.id] = "live"
        elif r.id == previous:
            out[r.id] = "previous"
        elif not r.ok:
            out[r.id] = "failed"
        else:
            out[r.id] = "retired"
    return out


def rollback_target(history: list[str], live: str | None) -> str | None:
    """The release that was live before the live one (None: there is none)."""
    for rid in reversed(history):
        if rid != live:
            return rid
    return None


def to_prune(releases: list[Release], keep: int, protected: set[str]) -> list[Release]:
    """Releases to remove: all but the `keep` newest, never one in `protected` (the
    live and the previous release)."""
    newest_first = sorted(releases, key=lambda r: (r.time, r.id), reverse=True)
    return [r for r in newest_first[keep:] if r.id not in protected]


@dataclass
class ReleaseLog:
    """``releases.json``: every release kept, the order releases went live, and the
    last sha accepted for each branch (to refuse a push that waited behind another)."""

    releases: list[Release] = field(default_factory=list)
    history: list[str] = field(default_factory=list)
    accepted: dict[str, str] = field(default_factory=dict)

    @classmethod
    def read(cls, d: DeployDir) -> ReleaseLog:
        raw: dict[str, Any] = d.read_json(d.state_file, {})
        try:
            return cls(
                releases=[Release(**r) for r in raw.get("releases", [])],
                history=list(raw.get("history", [])),
                accepted=dict(raw.get("accepted", {})),
            )
        except TypeError as exc:
            raise DeployError(f"{d.state_file}: unexpected content: {exc}") from None

    def write(self, d: DeployDir) -> None:
        d.write_json(
            d.state_file,
            {
                "releases": [asdict(r) for r in self.releases],
                "history": self.history[-100:],
                "accepted": self.accepted,
            },
        )

    def get(self, rid: str) -> Release | None:
        return next((r for r in self.releases if r.id == rid), None)

    def went_live(self, rid: str) -> None:
        self.history.append(rid)
        release = self.get(rid)
        if release is not None:
            release.ok = True
            release.reason = ""

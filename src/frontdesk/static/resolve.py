"""A request path → an open file under root, never anything outside it.

Runs in a worker thread (it does disk I/O). The path it gets is already decoded,
dot-segment free and NUL free (http/target.py), with the route prefix stripped; it is
checked again here anyway, segment by segment, because this is the one place where a
mistake serves /etc/passwd.

How containment is guaranteed, per `symlinks` policy:
  "none"   every segment is opened relative to its parent directory's descriptor
           (openat) with O_NOFOLLOW: a symlink anywhere fails the walk (ELOOP/ENOTDIR);
  "inside" the path is resolved with realpath, must stay under the root's realpath,
           and that resolved path is then walked as for "none" — so a symlink swapped
           in between the check and the open fails the walk instead of escaping;
  "any"    symlinks are followed wherever they point (trusted trees only).
Files are opened with O_NONBLOCK (opening a FIFO must not hang the thread) and checked
with fstat on the descriptor, so what is served is what was checked.
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass, field

_OPEN_FLAGS = os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK
_NOFOLLOW = os.O_NOFOLLOW
_DIR_FLAGS = os.O_RDONLY | os.O_CLOEXEC | os.O_DIRECTORY


@dataclass(frozen=True, slots=True)
class Policy:
    symlinks: str  # "inside" | "any" | "none"
    hide_dotfiles: bool
    index: tuple[str, ...]
    listing: bool
    fallback: str | None


@dataclass(slots=True)
class Opened:
    """A regular file, open for reading."""

    fd: int
    rel: str  # its path under root, as resolved (for types and Cache-Control rules)
    st: os.stat_result
    dir_fd: int  # its directory, open: siblings (file.br, file.gz) are looked up there

    def close(self) -> None:
        close_quietly(self.fd, self.dir_fd)


@dataclass(frozen=True, slots=True)
class Redirect:
    """A directory asked for without its trailing slash (301 to `rel` + "/")."""


@dataclass(frozen=True, slots=True)
class Listing:
    """A directory with no index file, listing enabled."""

    entries: list[tuple[str, bool, int, float]] = field(default_factory=list)
    """(name, is_dir, size, mtime) of the visible entries, sorted by name."""


@dataclass(frozen=True, slots=True)
class Refused:
    """404 (not found, hidden, outside root) or 403 (exists but cannot be read)."""

    status: int


NOT_FOUND = Refused(404)
FORBIDDEN = Refused(403)
REDIRECT = Redirect()

Result = Opened | Redirect | Listing | Refused


def check_segments(rel: str, hide_dotfiles: bool) -> list[str] | None:
    """The path's segments, or None when one of them may never be served.

    Refused: "..", "." (the core removes them; refusing again costs nothing), a
    backslash (a separator to Windows-minded clients and tools), NUL, and with
    `hide_dotfiles` any segment starting with "." (.git, .env, .htpasswd).
    """
    parts = [p for p in rel.split("/") if p]
    for p in parts:
        if p in (".", "..") or "\\" in p or "\0" in p:
            return None
        if hide_dotfiles and p.startswith("."):
            return None
    return parts


def resolve(root: str, rel: str, policy: Policy) -> Result:
    """Open what `rel` (a path under root, "" for root itself) names, applying index
    files, the directory redirect, listing and the fallback."""
    result = _resolve_path(root, rel, policy)
    if result is NOT_FOUND and policy.fallback is not None:
        parts = check_segments(rel, policy.hide_dotfiles)
        if parts is not None:  # hidden and refused paths stay 404
            fallback = _resolve_path(root, policy.fallback, policy)
            if isinstance(fallback, Opened):
                return fallback
    return result


def _resolve_path(root: str, rel: str, policy: Policy) -> Result:
    parts = check_segments(rel, policy.hide_dotfiles)
    if parts is None:
        return NOT_FOUND
    try:
        real_root = os.path.realpath(root)
        if policy.symlinks == "inside":
            resolved = os.path.realpath(os.path.join(real_root, *parts))
            if resolved != real_root and not resolved.startswith(real_root + os.sep):
                return NOT_FOUND  # a symlink pointing outside root
            under = resolved[len(real_root) + 1 :]
            parts = [p for p in under.split(os.sep) if p]
            # The link target is checked like a requested path (no .git via a link).
            if check_segments("/".join(parts), policy.hide_dotfiles) is None:
                return NOT_FOUND
        fd, dir_fd = _walk(real_root, parts, follow=policy.symlinks == "any")
    except OSError as exc:
        return _refusal(exc)
    try:
        st = os.fstat(fd)
    except OSError as exc:
        close_quietly(fd, dir_fd)
        return _refusal(exc)
    if stat.S_ISREG(st.st_mode):
        if rel.endswith("/"):
            close_quietly(fd, dir_fd)
            return NOT_FOUND  # "file.txt/" names a directory that is not there (ENOTDIR)
        return Opened(fd, "/".join(parts), st, dir_fd)
    if not stat.S_ISDIR(st.st_mode):
        close_quietly(fd, dir_fd)
        return NOT_FOUND  # FIFOs, sockets, devices are never served
    close_quietly(fd, dir_fd)
    if rel and not rel.endswith("/"):
        return REDIRECT
    base = "/".join(parts)
    for name in policy.index:
        found = _resolve_path(root, f"{base}/{name}" if base else name, policy)
        if isinstance(found, Opened):
            return found
    if policy.listing:
        return _list(real_root, parts, policy)
    return NOT_FOUND


def _walk(root: str, parts: list[str], follow: bool) -> tuple[int, int]:
    """(fd of the target, fd of its directory), opening one segment at a time."""
    if follow:
        path = os.path.join(root, *parts)
        fd = os.open(path, _OPEN_FLAGS)
        try:
            dir_fd = os.open(os.path.dirname(path) if parts else path, _DIR_FLAGS)
        except OSError:
            os.close(fd)
            raise
        return fd, dir_fd
    dir_fd = os.open(root, _DIR_FLAGS)
    if not parts:
        try:
            return os.open(".", _OPEN_FLAGS, dir_fd=dir_fd), dir_fd
        except OSError:
            os.close(dir_fd)
            raise
    try:
        for name in parts[:-1]:
            next_fd = os.open(name, _DIR_FLAGS | _NOFOLLOW, dir_fd=dir_fd)
            os.close(dir_fd)
            dir_fd = next_fd
        return os.open(parts[-1], _OPEN_FLAGS | _NOFOLLOW, dir_fd=dir_fd), dir_fd
    except OSError:
        os.close(dir_fd)
        raise


def open_sibling(opened: Opened, suffix: str, follow: bool) -> tuple[int, os.stat_result] | None:
    """The regular file next to `opened` named with `suffix` added (".br"), if any.

    A sibling older than the file itself is ignored: it was compressed from an
    earlier version, and serving it would send stale content.
    """
    name = opened.rel.rsplit("/", 1)[-1] + suffix
    try:
        fd = os.open(name, _OPEN_FLAGS | (0 if follow else _NOFOLLOW), dir_fd=opened.dir_fd)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
    except OSError:
        os.close(fd)
        return None
    if not stat.S_ISREG(st.st_mode) or st.st_mtime_ns < opened.st.st_mtime_ns:
        os.close(fd)
        return None
    return fd, st


def _list(root: str, parts: list[str], policy: Policy) -> Result:
    path = os.path.join(root, *parts)
    entries: list[tuple[str, bool, int, float]] = []
    try:
        with os.scandir(path) as it:
            for entry in it:
                name = entry.name
                if policy.hide_dotfiles and name.startswith("."):
                    continue
                try:
                    st = entry.stat(follow_symlinks=policy.symlinks != "none")
                except OSError:
                    continue
                if stat.S_ISDIR(st.st_mode) or stat.S_ISREG(st.st_mode):
                    entries.append((name, stat.S_ISDIR(st.st_mode), st.st_size, st.st_mtime))
    except OSError as exc:
        return _refusal(exc)
    entries.sort(key=lambda e: e[0])
    return Listing(entries)


def _refusal(exc: OSError) -> Refused:
    # EACCES/EPERM: the file exists but this process may not read it (403). Everything
    # else — ENOENT, ENOTDIR, ELOOP (a symlink where none is allowed), ENAMETOOLONG —
    # is "not found": it says nothing about what exists outside the served tree.
    if exc.errno in (errno.EACCES, errno.EPERM):
        return FORBIDDEN
    return NOT_FOUND


def close_quietly(*fds: int | None) -> None:
    """Close descriptors (None skipped), ignoring errors: used on cleanup paths."""
    for fd in fds:
        if fd is not None:
            try:
                os.close(fd)
            except OSError:
                pass

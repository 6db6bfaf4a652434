"""static/resolve.py on a real directory tree: nothing outside root is ever opened."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from frontdesk.static.resolve import (
    FORBIDDEN,
    NOT_FOUND,
    REDIRECT,
    Listing,
    Opened,
    Policy,
    check_segments,
    resolve,
)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    (root / "index.html").write_text("index")
    (root / "a.txt").write_text("a")
    (root / "sub" / "b.txt").write_text("b")
    (root / ".env").write_text("SECRET")
    (root / ".git").mkdir()
    (root / ".git" / "config").write_text("SECRET")
    (tmp_path / "outside.txt").write_text("SECRET")
    (tmp_path / "outdir").mkdir()
    (tmp_path / "outdir" / "x.txt").write_text("SECRET")
    os.symlink(tmp_path / "outside.txt", root / "escape.txt")
    os.symlink(tmp_path / "outdir", root / "escape_dir")
    os.symlink("a.txt", root / "inside_link.txt")
    os.symlink(".env", root / "to_dotfile")
    os.mkfifo(root / "fifo")
    return root


def policy(**kw: object) -> Policy:
    base: dict[str, object] = dict(
        symlinks="inside",
        hide_dotfiles=True,
        index=("index.html",),
        listing=False,
        fallback=None,
    )
    base.update(kw)
    return Policy(**base)  # type: ignore[arg-type]


def content(result: object) -> str:
    assert isinstance(result, Opened), result
    try:
        return os.pread(result.fd, 100, 0).decode()
    finally:
        result.close()


def test_plain_files_and_index(tree: Path) -> None:
    assert content(resolve(str(tree), "a.txt", policy())) == "a"
    assert content(resolve(str(tree), "sub/b.txt", policy())) == "b"
    assert content(resolve(str(tree), "", policy())) == "index"
    assert resolve(str(tree), "sub", policy()) is REDIRECT
    assert resolve(str(tree), "sub/", policy()) is NOT_FOUND  # no index, no listing
    assert resolve(str(tree), "a.txt/", policy()) is NOT_FOUND  # not a directory


@pytest.mark.parametrize(
    "rel",
    [
        "../outside.txt",
        "sub/../../outside.txt",
        "..",
        "./../outside.txt",
        "sub\\..\\..\\outside.txt",
        "..\\outside.txt",
        "a.txt\x00.html",
        ".env",
        ".git/config",
        "sub/../.env",
        "escape.txt",
        "escape_dir/x.txt",
        "to_dotfile",
        str(Path("/etc/passwd")).lstrip("/") + "/../../../../etc/passwd",
        "fifo",
    ],
)
def test_never_outside_root_nor_hidden(tree: Path, rel: str) -> None:
    for mode in ("inside", "none"):
        result = resolve(str(tree), rel, policy(symlinks=mode))
        assert result is NOT_FOUND, (mode, rel, result)


def test_symlink_policies(tree: Path) -> None:
    assert content(resolve(str(tree), "inside_link.txt", policy(symlinks="inside"))) == "a"
    assert resolve(str(tree), "inside_link.txt", policy(symlinks="none")) is NOT_FOUND
    assert content(resolve(str(tree), "escape.txt", policy(symlinks="any"))) == "SECRET"


def test_symlinked_root_is_fine(tree: Path, tmp_path: Path) -> None:
    link = tmp_path / "root_link"
    os.symlink(tree, link)
    assert content(resolve(str(link), "a.txt", policy(symlinks="none"))) == "a"


def test_dotfiles_allowed_when_configured(tree: Path) -> None:
    assert content(resolve(str(tree), ".env", policy(hide_dotfiles=False))) == "SECRET"


def test_listing_hides_dotfiles(tree: Path) -> None:
    result = resolve(str(tree), "", policy(index=(), listing=True))
    assert isinstance(result, Listing)
    names = [e[0] for e in result.entries]
    assert "a.txt" in names and "sub" in names
    assert not [n for n in names if n.startswith(".")]
    assert "fifo" not in names


def test_fallback_for_missing_but_not_for_hidden(tree: Path) -> None:
    p = policy(fallback="index.html")
    assert content(resolve(str(tree), "no/such/page", p)) == "index"
    assert resolve(str(tree), ".env", p) is NOT_FOUND
    assert resolve(str(tree), "../outside.txt", p) is NOT_FOUND


def test_unreadable_is_403_and_vanished_is_404(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_open = os.open

    def denied(path, flags, *a, **kw):  # type: ignore[no-untyped-def]
        if path == "a.txt":
            raise PermissionError(errno.EACCES, "denied")
        if path == "b.txt":
            raise FileNotFoundError(errno.ENOENT, "gone")
        return real_open(path, flags, *a, **kw)

    monkeypatch.setattr(os, "open", denied)
    assert resolve(str(tree), "a.txt", policy(symlinks="none")) is FORBIDDEN
    assert resolve(str(tree), "sub/b.txt", policy(symlinks="none")) is NOT_FOUND


def test_no_descriptor_leaks(tree: Path) -> None:
    before = len(os.listdir("/proc/self/fd"))
    for rel in ("a.txt", "sub", "sub/", "nope", "../x", "escape.txt", "fifo", ""):
        result = resolve(str(tree), rel, policy())
        if isinstance(result, Opened):
            result.close()
    assert len(os.listdir("/proc/self/fd")) == before


@pytest.mark.parametrize("rel", ["a/../b", "a/./b", "a\\b", "x\x00", ".hidden/x"])
def test_check_segments_refuses(rel: str) -> None:
    assert check_segments(rel, hide_dotfiles=True) is None

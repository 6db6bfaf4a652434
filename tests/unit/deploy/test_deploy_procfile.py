"""The Procfile parser: Heroku's `name: command` lines."""

from __future__ import annotations

import pytest

from frontdesk.deploy.procfile import ProcfileError, parse_procfile


def test_types_in_order_with_comments_and_blank_lines() -> None:
    text = (
        "# processes\nweb: gunicorn app:app --bind :$PORT\n\n"
        "release: python manage.py migrate\nworker:python worker.py\n"
    )
    p = parse_procfile(text)
    assert p.web == "gunicorn app:app --bind :$PORT"
    assert p.release == "python manage.py migrate"
    assert list(p.types) == ["web", "release", "worker"]
    assert p.others() == ["worker"]


def test_command_keeps_colons_and_surrounding_space_is_trimmed() -> None:
    p = parse_procfile("  web :  python -m http.server --bind 127.0.0.1:$PORT  \r\n")
    assert p.web == "python -m http.server --bind 127.0.0.1:$PORT"


def test_no_web_no_release() -> None:
    p = parse_procfile("clock: python clock.py\n")
    assert p.web is None and p.release is None


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("web: a\njust a command\n", 2, "expected 'name: command'"),
        ("web:\n", 1, "has no command"),
        ("web: a\n\nweb: b\n", 3, "defined twice"),
        ("we b: a\n", 1, "expected 'name: command'"),
    ],
)
def test_bad_lines_name_their_line(text: str, line: int, message: str) -> None:
    with pytest.raises(ProcfileError) as info:
        parse_procfile(text)
    assert info.value.line == line
    assert str(info.value).startswith(f"Procfile:{line}: ")
    assert message in str(info.value)

import math

import pytest

from frontdesk.config.units import format_duration, format_size, parse_duration, parse_size


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("64KB", 64 * 1024),
        ("64kb", 64 * 1024),
        ("64k", 64 * 1024),
        ("64KiB", 64 * 1024),
        ("1.5MB", 1536 * 1024),
        ("10 MiB", 10 * 1024**2),
        ("512", 512),
        (512, 512),
        ("0", 0),
        ("1GB", 1024**3),
        ("2T", 2 * 1024**4),
        ("100B", 100),
        (" 8KB ", 8192),
        (".5KB", 512),
    ],
)
def test_parse_size(text: str | int, expected: int) -> None:
    assert parse_size(text) == expected


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("12XB", 'invalid size "12XB": expected a number and a unit such as 64KB'),
        ("", "expected a number and a unit"),
        ("KB", "expected a number and a unit"),
        ("-1KB", "must not be negative"),
        (-1, "must not be negative"),
        (True, "invalid size"),
        ("1.3B", "not a whole number of bytes"),
        ("1e3", "expected a number"),
        ("1 2KB", "expected a number"),
        (1.5, "invalid size"),
    ],
)
def test_parse_size_rejects(value: object, fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        parse_size(value)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("5s", 5.0),
        ("250ms", 0.25),
        ("1m", 60.0),
        ("1h", 3600.0),
        ("1m30s", 90.0),
        ("1h 30m", 5400.0),
        ("1.5s", 1.5),
        ("2d", 172800.0),
        ("0", 0.0),
        ("7", 7.0),
        ("0.1", 0.1),
        (3, 3.0),
        (2.5, 2.5),
        ("1d2h3m4s5ms", 86400 + 7200 + 180 + 4 + 0.005),
    ],
)
def test_parse_duration(text: str | float, expected: float) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("x", "expected a number and a unit such as 250ms"),
        ("", "expected a number"),
        ("5S", "expected a number"),
        ("5 minutes", "expected a number"),
        ("-5s", "must not be negative"),
        (-1, ">= 0"),
        (math.inf, "finite"),
        (math.nan, "finite"),
        (True, "invalid duration"),
        ("30m1h", "largest to smallest"),
        ("1s1s", "largest to smallest"),
    ],
)
def test_parse_duration_rejects(value: object, fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        parse_duration(value)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("n", "text"),
    [
        (0, "0B"),
        (512, "512B"),
        (1024, "1KB"),
        (1536, "1.5KB"),
        (1024**2 * 5 // 4, "1.25MB"),
        (1024**3, "1GB"),
        (1025, "1025B"),
    ],
)
def test_format_size(n: int, text: str) -> None:
    assert format_size(n) == text
    assert parse_size(text) == n


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (5, "5s"),
        (90, "1m30s"),
        (0.25, "250ms"),
        (1.5, "1.5s"),
        (86400, "1d"),
        (3661, "1h1m1s"),
        (1e-05, "0.00001s"),
    ],
)
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("bad", [-1, math.inf, math.nan])
def test_format_duration_rejects(bad: float) -> None:
    with pytest.raises(ValueError):
        format_duration(bad)

"""Human-readable sizes and durations, as written in the config file.

Sizes are binary, as in nginx: ``k``, ``K``, ``KB`` and ``KiB`` all mean 1024 bytes
(likewise M, G, T). Nobody configuring a buffer means 1000, and accepting both
spellings with one meaning avoids a silent 2.4% surprise.

Arithmetic is done with ``Fraction`` so that "1.5MB" is exactly 1572864 and
"0.1s" is the float nearest 0.1, never an accumulation of rounding errors.
Every rejection is a ``ValueError`` (pydantic turns those into validation errors).
"""

from __future__ import annotations

import math
import re
from decimal import Decimal
from fractions import Fraction

__all__ = ["parse_size", "parse_duration", "format_size", "format_duration"]

_SIZE_UNITS: dict[str, int] = {
    "": 1,
    "b": 1,
    "k": 1024,
    "kb": 1024,
    "kib": 1024,
    "m": 1024**2,
    "mb": 1024**2,
    "mib": 1024**2,
    "g": 1024**3,
    "gb": 1024**3,
    "gib": 1024**3,
    "t": 1024**4,
    "tb": 1024**4,
    "tib": 1024**4,
}
# Exponents ("1e3") are deliberately not accepted: nobody writes sizes that way,
# and refusing them keeps "1e3" from being a surprising typo for "1k".
_NUMBER = r"(?:\d+(?:\.\d*)?|\.\d+)"
_SIZE_RE = re.compile(rf"\s*({_NUMBER})\s*([A-Za-z]*)\s*")

_SIZE_HINT = "expected a number and a unit such as 64KB, 10MB, 1GB"


def parse_size(value: str | int) -> int:
    """Return the number of bytes in `value`: 512, "512", "64KB", "1.5MB", "10 MiB"."""
    if isinstance(value, bool):  # bool is an int subclass; `true` is never a size
        raise ValueError(f"invalid size {value!r}: {_SIZE_HINT}")
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"invalid size {value}: must not be negative")
        return value
    if not isinstance(value, str):
        raise ValueError(f"invalid size {value!r}: {_SIZE_HINT}")
    if value.strip().startswith("-"):
        raise ValueError(f'invalid size "{value}": must not be negative')
    m = _SIZE_RE.fullmatch(value)
    if m is None or m.group(2).lower() not in _SIZE_UNITS:
        raise ValueError(f'invalid size "{value}": {_SIZE_HINT}')
    exact = Fraction(m.group(1)) * _SIZE_UNITS[m.group(2).lower()]
    if exact.denominator != 1:
        raise ValueError(f'invalid size "{value}": not a whole number of bytes')
    return int(exact)


def format_size(n: int) -> str:
    """Format a byte count the way a config file would say it: 1024 -> "1KB", 1536 -> "1.5KB".

    Exact: ``parse_size(format_size(n)) == n`` for every n >= 0.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"invalid size {n!r}: must be a whole number >= 0")
    for suffix, mult in (("TB", 1024**4), ("GB", 1024**3), ("MB", 1024**2), ("KB", 1024)):
        q = Fraction(n, mult)
        # Denominator 1, 2 or 4 prints exactly with at most two decimals ("1.25MB").
        if q >= 1 and 4 % q.denominator == 0:
            return _decimal(q) + suffix
    return f"{n}B"


_DURATION_UNITS: dict[str, Fraction] = {
    "d": Fraction(86400),
    "h": Fraction(3600),
    "m": Fraction(60),
    "s": Fraction(1),
    "ms": Fraction(1, 1000),
}
_UNIT_ORDER = list(_DURATION_UNITS)  # largest first; compound values must follow it
_PART_RE = re.compile(rf"\s*({_NUMBER})\s*(ms|[dhms])")
_DURATION_RE = re.compile(rf"(?:\s*{_NUMBER}\s*(?:ms|[dhms]))+\s*")
_BARE_RE = re.compile(_NUMBER)

_DURATION_HINT = "expected a number and a unit such as 250ms, 5s, 1m30s, 2h, 1d"


def parse_duration(value: str | int | float) -> float:
    """Return seconds: 5, 1.5, "5", "5s", "250ms", "1m30s", "2h", "1d"; bare numbers are seconds.

    Units are lowercase (``M`` could be read as months); compound values go from the
    largest unit to the smallest, each at most once ("1h30m", not "30m1h").
    """
    if isinstance(value, bool):
        raise ValueError(f"invalid duration {value!r}: {_DURATION_HINT}")
    if isinstance(value, int | float):
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"invalid duration {value!r}: must be a finite number >= 0")
        return float(value)
    if not isinstance(value, str):
        raise ValueError(f"invalid duration {value!r}: {_DURATION_HINT}")
    text = value.strip()
    if text.startswith("-"):
        raise ValueError(f'invalid duration "{value}": must not be negative')
    if _BARE_RE.fullmatch(text):
        return float(Fraction(text))
    if not _DURATION_RE.fullmatch(text):
        raise ValueError(f'invalid duration "{value}": {_DURATION_HINT}')
    total = Fraction(0)
    last = -1
    for number, unit in _PART_RE.findall(text):
        rank = _UNIT_ORDER.index(unit)
        if rank <= last:
            raise ValueError(
                f'invalid duration "{value}": write units from largest to smallest, '
                "each once, as in 1h30m"
            )
        last = rank
        total += Fraction(number) * _DURATION_UNITS[unit]
    return float(total)


def format_duration(seconds: float) -> str:
    """Format seconds for messages and docs: 90 -> "1m30s", 0.25 -> "250ms", 1.5 -> "1.5s".

    Exact: ``parse_duration(format_duration(x)) == x`` for every finite x >= 0.
    """
    if isinstance(seconds, bool) or not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"invalid duration {seconds!r}: must be a finite number >= 0")
    x = float(seconds)
    if x == 0:
        return "0s"
    if x.is_integer():
        rest = int(x)
        parts = []
        for unit in ("d", "h", "m", "s"):
            n, rest = divmod(rest, int(_DURATION_UNITS[unit]))
            if n:
                parts.append(f"{n}{unit}")
        return "".join(parts)
    if x < 1:
        ms = round(x * 1000)
        if ms and float(Fraction(ms, 1000)) == x:
            return f"{ms}ms"
    # repr() is the shortest text that reads back as the same float; print it positionally
    # because the parser accepts no exponents.
    return _decimal(Decimal(repr(x))) + "s"


def _decimal(q: Fraction | Decimal) -> str:
    if isinstance(q, Fraction):  # denominator 1, 2 or 4: two decimals are exact
        whole, hundredths = divmod(int(q * 100), 100)
        text = f"{whole}.{hundredths:02d}"
    else:
        text = format(q, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text

"""Cache-Control per glob pattern (`cache_rules`), compiled once at config load.

A pattern with "/" is matched against the file's path under root, one without
against its name alone (as .gitignore). "*" and "?" never cross "/"; "**" does;
"[...]" is a character class ("[!...]" negated).
"""

from __future__ import annotations

import re
from collections.abc import Mapping


def glob_regex(pattern: str) -> re.Pattern[str]:
    out = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "*":
            if pattern.startswith("**", i):
                out.append(".*")
                i += 2
                continue
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            end = pattern.find("]", i + 2 if pattern.startswith("[!", i) else i + 1)
            if end < 0:
                out.append(re.escape(c))
            else:
                body = pattern[i + 1 : end]
                if body.startswith("!"):
                    body = "^" + body[1:]
                out.append("[" + body.replace("\\", "\\\\") + "]")
                i = end
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile("".join(out) + r"\Z", re.DOTALL)


# A content hash in a file name (config.static.Static.cache_control): a segment between
# two dots, not the first nor the last, of 8+ lower-case hex digits with at least one
# letter (an all-digit segment is more often a date or a version than a hash).
HASHED_NAME = re.compile(r"[^.]\.(?=[0-9]*[a-f])[0-9a-f]{8,}\.[^/]")
IMMUTABLE = "public, max-age=31536000, immutable"
"""A hashed name changes whenever the content does, so the response at that URL never
changes: a year (the longest lifetime RFC 2616 §14.21 let servers send, still the
convention) and immutable (RFC 8246), so that browsers do not revalidate it on reload."""


def is_hashed(name: str) -> bool:
    """Whether a file name carries a content hash (HASHED_NAME)."""
    return HASHED_NAME.search(name) is not None


class CacheRules:
    """`value_for(rel)`: the Cache-Control of the first matching rule; else `explicit`
    when set (a route's `cache_control`); else IMMUTABLE for a hashed name and
    `default` for others."""

    def __init__(self, rules: Mapping[str, str], explicit: str | None, default: str) -> None:
        self._rules = [
            (glob_regex(p.removeprefix("/")), "/" in p.removeprefix("/"), v)
            for p, v in rules.items()
        ]
        self._explicit = explicit
        self._default = default

    def value_for(self, rel: str) -> str:
        name = rel.rsplit("/", 1)[-1]
        for regex, whole_path, value in self._rules:
            if regex.match(rel if whole_path else name):
                return value
        if self._explicit is not None:
            return self._explicit
        return IMMUTABLE if is_hashed(name) else self._default

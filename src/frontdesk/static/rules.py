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


class CacheRules:
    """`value_for(rel)`: the Cache-Control of the first matching rule, or the default."""

    def __init__(self, rules: Mapping[str, str], default: str) -> None:
        self._rules = [
            (glob_regex(p.removeprefix("/")), "/" in p.removeprefix("/"), v)
            for p, v in rules.items()
        ]
        self._default = default

    def value_for(self, rel: str) -> str:
        name = rel.rsplit("/", 1)[-1]
        for regex, whole_path, value in self._rules:
            if regex.match(rel if whole_path else name):
                return value
        return self._default

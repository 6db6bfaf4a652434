"""The route table: ordered matchers compiled once at config load; first match wins.

Pure: matching takes the request's method, host, normalised path and header list and
returns the action value stored with the route. Nothing here knows about sockets.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")

Headers = Sequence[tuple[bytes, bytes]]


@dataclass(frozen=True, slots=True)
class Matcher:
    """Conditions of one route; a condition left as None (or empty) always holds."""

    hosts: frozenset[str] | None = None  # exact host names, lower-case
    host_suffixes: tuple[str, ...] = ()  # from "*.example.com": ".example.com"
    prefix: str | None = None
    exact: str | None = None
    regex: re.Pattern[str] | None = None
    methods: frozenset[bytes] | None = None
    headers: tuple[tuple[bytes, bytes | None], ...] = ()  # (lower-case name, value or None=present)

    @classmethod
    def build(
        cls,
        *,
        hosts: Iterable[str] = (),
        prefix: str | None = None,
        exact: str | None = None,
        regex: str | None = None,
        methods: Iterable[str] = (),
        headers: Iterable[tuple[str, str]] = (),
    ) -> Matcher:
        exact_hosts: set[str] = set()
        suffixes: list[str] = []
        for h in hosts:
            h = h.lower().rstrip(".")
            if h.startswith("*."):
                suffixes.append(h[1:])
            else:
                exact_hosts.add(h)
        host_set = frozenset(exact_hosts) if exact_hosts or suffixes else None
        method_set = frozenset(m.upper().encode("ascii") for m in methods) or None
        hdrs = tuple(
            (name.lower().encode("latin-1"), None if value == "*" else value.encode("latin-1"))
            for name, value in headers
        )
        return cls(
            hosts=host_set,
            host_suffixes=tuple(suffixes),
            prefix=None if prefix in (None, "/") else prefix,  # "/" matches every path
            exact=exact,
            regex=re.compile(regex) if regex is not None else None,
            methods=method_set,
            headers=hdrs,
        )

    def matches(self, method: bytes, host: str, path: str, headers: Headers) -> bool:
        if self.methods is not None and method not in self.methods:
            return False
        if self.prefix is not None and not path.startswith(self.prefix):
            return False
        if self.exact is not None and path != self.exact:
            return False
        if self.regex is not None and self.regex.search(path) is None:
            return False
        if self.hosts is not None and not self._host_matches(host):
            return False
        if self.headers and not self._headers_match(headers):
            return False
        return True

    def _host_matches(self, host: str) -> bool:
        assert self.hosts is not None
        if host in self.hosts:
            return True
        # "*.example.com" matches any subdomain, at any depth, but not the apex.
        return any(host.endswith(s) and len(host) > len(s) for s in self.host_suffixes)

    def _headers_match(self, headers: Headers) -> bool:
        for want_name, want_value in self.headers:
            for name, value in headers:
                if name.lower() == want_name and (want_value is None or value == want_value):
                    break
            else:
                return False
        return True


class RouteTable(Generic[T]):
    """Ordered (matcher, action) pairs; `match` returns the first action that matches."""

    __slots__ = ("_entries", "_catch_all")

    @property
    def catch_all(self) -> T | None:
        """The action of a leading route that matches every request, if there is one."""
        return self._catch_all

    def __init__(self, entries: Sequence[tuple[Matcher, T]]) -> None:
        self._entries = tuple(entries)
        # A leading catch-all route (a bare `respond`, a whole-site proxy) is common
        # enough to skip the loop for.
        empty = Matcher()
        self._catch_all: T | None = None
        if self._entries and self._entries[0][0] == empty:
            self._catch_all = self._entries[0][1]

    def __len__(self) -> int:
        return len(self._entries)

    def entries(self) -> tuple[tuple[Matcher, T], ...]:
        """The (matcher, action) pairs in order (to build a table with more in front)."""
        return self._entries

    def match(self, method: bytes, host: str, path: str, headers: Headers) -> T | None:
        if self._catch_all is not None:
            return self._catch_all
        for matcher, action in self._entries:
            if matcher.matches(method, host, path, headers):
                return action
        return None

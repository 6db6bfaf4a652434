"""Map key paths such as ("route", 2, "match", "path") to the line where the key is written.

tomllib returns plain dicts without positions, so this scans the (already valid) TOML
text once: table headers, ``[[array]]`` headers (counted for the index), ``key = value``
lines, dotted keys, keys inside inline tables and elements of arrays. It only has to be
good enough to point a person at the right line; anything it cannot place falls back to
the nearest enclosing key or table it did place.
"""

from __future__ import annotations

Path = tuple[str | int, ...]

__all__ = ["Path", "key_lines", "locate"]

_BARE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")


def locate(text: str, path: Path) -> int | None:
    """The 1-based line of the longest prefix of `path` written in `text`, or None."""
    lines = key_lines(text)
    for end in range(len(path), 0, -1):
        line = lines.get(path[:end])
        if line is not None:
            return line
    return None


def key_lines(text: str) -> dict[Path, int]:
    """Every key path written in `text` → its first line (1-based)."""
    scanner = _Scanner(text)
    try:
        scanner.document()
    except (IndexError, ValueError):  # invalid TOML: keep what was found so far
        pass
    return scanner.lines


class _Scanner:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.line = 1
        self.lines: dict[Path, int] = {}
        self.array_counts: dict[Path, int] = {}

    # --- low level ---
    def peek(self, n: int = 1) -> str:
        return self.text[self.pos : self.pos + n]

    def advance(self, n: int = 1) -> None:
        self.line += self.text.count("\n", self.pos, self.pos + n)
        self.pos += n

    def skip_blank(self, newlines: bool) -> None:
        """Skip spaces and comments, and newlines too when `newlines`."""
        while self.pos < len(self.text):
            c = self.text[self.pos]
            if c in " \t\r" or (newlines and c == "\n"):
                self.advance()
            elif c == "#":
                end = self.text.find("\n", self.pos)
                self.advance((len(self.text) if end < 0 else end) - self.pos)
            else:
                return

    def record(self, path: Path) -> None:
        self.lines.setdefault(path, self.line)

    # --- grammar ---
    def document(self) -> None:
        table: Path = ()
        while True:
            self.skip_blank(newlines=True)
            if self.pos >= len(self.text):
                return
            if self.peek(2) == "[[":
                self.advance(2)
                parent_keys = self.dotted_key()
                self.skip_blank(newlines=False)
                self.advance(2)  # "]]"
                resolved = self.resolve(parent_keys[:-1]) + (parent_keys[-1],)
                index = self.array_counts.get(resolved, 0)
                self.array_counts[resolved] = index + 1
                table = resolved + (index,)
                self.record(resolved)
                self.record(table)
            elif self.peek() == "[":
                self.advance()
                table = self.resolve(self.dotted_key())
                self.skip_blank(newlines=False)
                self.advance()  # "]"
                for end in range(1, len(table) + 1):  # [pool.app] also places "pool"
                    self.record(table[:end])
            else:
                self.key_value(table)

    def resolve(self, keys: Path) -> Path:
        """Insert the current index after each key that names an array of tables."""
        resolved: Path = ()
        for key in keys:
            resolved += (key,)
            count = self.array_counts.get(resolved)
            if count:
                resolved += (count - 1,)
        return resolved

    def dotted_key(self) -> Path:
        keys: list[str | int] = []
        while True:
            self.skip_blank(newlines=False)
            keys.append(self.simple_key())
            self.skip_blank(newlines=False)
            if self.peek() != ".":
                return tuple(keys)
            self.advance()

    def simple_key(self) -> str:
        quote = self.peek()
        if quote in ('"', "'"):
            start = self.pos + 1
            self.string()
            raw = self.text[start : self.pos - 1]
            # Escapes in quoted keys are rare; "\\" and '\"' are the ones worth undoing.
            return raw.replace('\\"', '"').replace("\\\\", "\\") if quote == '"' else raw
        start = self.pos
        while self.pos < len(self.text) and self.text[self.pos] in _BARE:
            self.pos += 1
        if self.pos == start:
            raise ValueError("expected a key")
        return self.text[start : self.pos]

    def key_value(self, table: Path) -> None:
        path = table + self.dotted_key()
        for end in range(len(table) + 1, len(path) + 1):
            self.record(path[:end])
        self.skip_blank(newlines=False)
        self.advance()  # "="
        self.skip_blank(newlines=False)
        self.value(path)

    def value(self, path: Path) -> None:
        c = self.peek()
        if c in ('"', "'"):
            self.string()
        elif c == "[":
            self.advance()
            index = 0
            while True:
                self.skip_blank(newlines=True)
                if self.peek() == "]":
                    self.advance()
                    return
                self.record(path + (index,))
                self.value(path + (index,))
                index += 1
                self.skip_blank(newlines=True)
                if self.peek() == ",":
                    self.advance()
        elif c == "{":
            self.advance()
            while True:
                self.skip_blank(newlines=False)
                if self.peek() == "}":
                    self.advance()
                    return
                self.key_value(path)
                self.skip_blank(newlines=False)
                if self.peek() == ",":
                    self.advance()
        else:  # number, bool, date: runs to a delimiter
            start = self.pos
            while self.pos < len(self.text) and self.text[self.pos] not in ",]}#\n":
                self.pos += 1
            if self.pos == start:
                raise ValueError("expected a value")

    def string(self) -> None:
        quote = self.peek()
        if self.peek(3) == quote * 3:
            self.advance(3)
            end = self.text.find(quote * 3, self.pos)
            while quote == '"' and end > 0 and _escaped(self.text, end):
                end = self.text.find(quote * 3, end + 1)
            if end < 0:
                raise ValueError("unterminated string")
            # A multi-line string may end with up to two extra quotes: """a"""""
            end += 3
            while self.text[end : end + 1] == quote:
                end += 1
            self.advance(end - self.pos)
            return
        self.advance()
        while True:
            c = self.text[self.pos]
            if c == "\\" and quote == '"':
                self.pos += 2
            elif c == quote:
                self.pos += 1
                return
            elif c == "\n":
                raise ValueError("unterminated string")
            else:
                self.pos += 1


def _escaped(text: str, index: int) -> bool:
    backslashes = 0
    while index - backslashes - 1 >= 0 and text[index - backslashes - 1] == "\\":
        backslashes += 1
    return backslashes % 2 == 1

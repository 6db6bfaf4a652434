"""Header-field helpers shared by the cache modules (RFC 9110 §5, §8.8.3).

Representation, used everywhere in cache/: a header section is a sequence of
``(name, value)`` byte pairs in the order received, with names in any case, as the
server's parser delivers them (server/request.py). Names are compared
case-insensitively (RFC 9110 §5.1: "Field names are case-insensitive"); the order of
lines is never changed. Functions here take the wanted name in lower case.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

Fields = Sequence[tuple[bytes, bytes]]
"""A header section: (name, value) pairs in received order; names in any case."""

FieldTuple = tuple[tuple[bytes, bytes], ...]


def get_all(fields: Fields, name: bytes) -> list[bytes]:
    """Every value of field `name` (lower case), in order."""
    n = len(name)
    found = []  # a loop, not a comprehension: no frame of its own (hot lane)
    for k, v in fields:
        if len(k) == n and k.lower() == name:
            found.append(v)
    return found


def get_first(fields: Fields, name: bytes) -> bytes | None:
    """The first value of field `name` (lower case), or None."""
    n = len(name)
    for k, v in fields:
        if len(k) == n and k.lower() == name:
            return v
    return None


def has(fields: Fields, name: bytes) -> bool:
    """Whether field `name` (lower case) is present."""
    return get_first(fields, name) is not None


def without(fields: Fields, names: Iterable[bytes]) -> FieldTuple:
    """The fields minus every line whose lower-cased name is in `names`."""
    drop = frozenset(names)
    if not drop:
        return tuple(fields)
    return tuple((k, v) for k, v in fields if k.lower() not in drop)


# RFC 9110 §5.6.1: #element lists; a quoted-string may hold commas.
#   quoted-string = DQUOTE *( qdtext / quoted-pair ) DQUOTE
LIST_MEMBER = re.compile(rb'(?:[^,"]|"(?:[^"\\]|\\.)*"?)*')


def split_list(value: bytes) -> list[bytes]:
    """Members of a comma-separated list, OWS stripped, empty members dropped.

    RFC 9110 §5.6.1: "a recipient MUST accept empty list elements ... and ignore them";
    commas inside quoted strings do not split.
    """
    out = []
    for m in LIST_MEMBER.finditer(value):
        item = m.group().strip(b" \t")
        if item:
            out.append(item)
    return out


def skip_separators(value: bytes, pos: int) -> int:
    """The index of the next list member at or after `pos`: OWS and commas skipped
    (RFC 9110 §5.6.1: empty list elements are ignored)."""
    end = len(value)
    while pos < end and value[pos] in b" \t,":
        pos += 1
    return pos


def field_names(value: bytes) -> frozenset[bytes]:
    """Lower-cased field names of a list such as Connection, Vary or no-cache="a, b"."""
    return frozenset(item.lower() for item in split_list(value))


# RFC 9110 §8.8.3:
#   entity-tag = [ weak ] opaque-tag ;  weak = %s"W/" ;  opaque-tag = DQUOTE *etagc DQUOTE
#   etagc = %x21 / %x23-7E / obs-text
# etagc has no escape: a backslash is an ordinary character, so quoted-string rules
# must not be used to split a list of entity tags.
_ETAG = re.compile(rb'(?:W/)?"[\x21\x23-\x7e\x80-\xff]*"')
_ETAG_LIST_ITEM = re.compile(rb'[ \t]*((?:W/)?"[\x21\x23-\x7e\x80-\xff]*")[ \t]*(?:,|\Z)')


def parse_etag(value: bytes) -> bytes | None:
    """The entity-tag of an ETag field value (surrounding OWS removed), or None if invalid."""
    value = value.strip(b" \t")
    return value if _ETAG.fullmatch(value) else None


class _Star:
    """The "*" member of If-None-Match / If-Match."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "STAR"


STAR = _Star()


def parse_etag_list(value: bytes) -> list[bytes] | _Star | None:
    """If-None-Match / If-Match value: STAR, a list of entity-tags, or None if invalid.

    RFC 9110 §13.1.1: If-Match = "*" / #entity-tag (If-None-Match the same).
    """
    stripped = value.strip(b" \t")
    if stripped == b"*":
        return STAR
    tags: list[bytes] = []
    pos = skip_separators(value, 0)
    while pos < len(value):
        m = _ETAG_LIST_ITEM.match(value, pos)
        if m is None:
            return None
        tags.append(m.group(1))
        pos = skip_separators(value, m.end())
    return tags


def is_weak(tag: bytes) -> bool:
    """Whether an entity-tag carries the W/ weakness indicator (RFC 9110 §8.8.3)."""
    return tag.startswith(b"W/")


def opaque(tag: bytes) -> bytes:
    """The opaque-tag of an entity-tag (without W/)."""
    return tag[2:] if tag.startswith(b"W/") else tag


def weak_match(a: bytes, b: bytes) -> bool:
    """RFC 9110 §8.8.3.2 weak comparison: "two entity tags are equivalent if their
    opaque-tags match character-by-character, regardless of either or both being
    tagged as 'weak'"."""
    return opaque(a) == opaque(b)


def strong_match(a: bytes, b: bytes) -> bool:
    """RFC 9110 §8.8.3.2 strong comparison: "two entity tags are equivalent if both are
    not weak and their opaque-tags match character-by-character"."""
    return not is_weak(a) and not is_weak(b) and a == b

"""Purge tags from Surrogate-Key / Cache-Tag response fields.

Origins label responses with tags so that a purge can name a group of entries
("product-42") instead of URLs. Surrogate-Key (Fastly, Varnish xkey) separates tags
with spaces; Cache-Tag (Cloudflare, Akamai) with commas. Both are read, the union is
kept in the entry, and the fields are removed before the response is stored or sent to
a client: they are addressed to this cache, not to the next hop.
"""

from __future__ import annotations

import re

from .fields import Fields, FieldTuple, get_all, without

_SEPARATORS = re.compile(rb"[\s,]+")


def parse_tags(headers: Fields, names: tuple[bytes, ...]) -> tuple[str, ...]:
    """Tags of the given fields, in first-seen order, without duplicates."""
    seen: dict[str, None] = {}
    for name in names:
        for value in get_all(headers, name):
            for tag in _SEPARATORS.split(value):
                if tag:
                    seen.setdefault(tag.decode("latin-1"), None)
    return tuple(seen)


def format_tags(tags: tuple[str, ...]) -> bytes:
    """A Surrogate-Key value for tags (space-separated), the inverse of parse_tags."""
    return " ".join(tags).encode("latin-1")


def strip_tags(headers: Fields, names: tuple[bytes, ...]) -> FieldTuple:
    """The headers without the tag fields (what a client may see)."""
    return without(headers, names)

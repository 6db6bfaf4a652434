"""Structured Field Dictionaries (RFC 8941 §3.2, parsed as §4.2.2 says), for the
targeted cache-control fields of RFC 9213 (cache/targeted.py).

https://www.rfc-editor.org/rfc/rfc8941#section-3.2
    sf-dictionary  = dict-member *( OWS "," OWS dict-member )
    dict-member    = member-key ( parameters / ( "=" member-value ))
    member-key     = key
    member-value   = sf-item / inner-list
    key            = ( lcalpha / "*" ) *( lcalpha / DIGIT / "_" / "-" / "." / "*" )
    sf-item        = bare-item parameters
    bare-item      = sf-integer / sf-decimal / sf-string / sf-token / sf-binary / sf-boolean
    parameters     = *( ";" *SP key [ "=" bare-item ] )
    inner-list     = "(" *SP [ sf-item *( 1*SP sf-item ) *SP ] ")" parameters

Only what a cache directive can be is returned: each member's bare item as a
(kind, text) pair. Parameters are checked for syntax and dropped (no cache directive
has any); an inner list is reported as the kind "list". §4.2: a field whose value fails
to parse is invalid as a whole, and "the entire field value" is then ignored.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

# A bare item; the alternatives are tried in this order (§4.2.3.1: by first character).
_BARE_ITEM = (
    r"(?P<decimal>-?[0-9]{1,12}\.[0-9]{1,3})(?![0-9.])"
    r"|(?P<integer>-?[0-9]{1,15})(?![0-9.])"
    r'|"(?P<string>(?:[\x20\x21\x23-\x5b\x5d-\x7e]|\\["\\])*)"'
    r"|(?P<token>[A-Za-z*][!#$%&'*+\-.^_`|~0-9A-Za-z:/]*)"
    r"|:(?P<binary>[A-Za-z0-9+/=]*):"
    r"|\?(?P<boolean>[01])"
)
_UNNAMED_ITEM = re.sub(r"\(\?P<\w+>", "(?:", _BARE_ITEM)
_KEY = r"[a-z*][a-z0-9_\-.*]*"
_PARAMETERS = r"(?:;[ ]*" + _KEY + r"(?:=(?:" + _UNNAMED_ITEM + r"))?)*"
_PLAIN_ITEM = r"(?:" + _UNNAMED_ITEM + r")" + _PARAMETERS
_INNER_LIST = r"\([ ]*(?:" + _PLAIN_ITEM + r"(?:[ ]+" + _PLAIN_ITEM + r")*[ ]*)?\)" + _PARAMETERS
_MEMBER = re.compile(
    r"(?P<key>" + _KEY + r")"
    r"(?:=(?:(?P<list>" + _INNER_LIST + r")|(?:" + _BARE_ITEM + r")" + _PARAMETERS + r")"
    r"|" + _PARAMETERS + r")"
)
_SEPARATOR = re.compile(r"[ \t]*,[ \t]*")
_ESCAPED = re.compile(r"\\([\"\\])")
_KINDS = ("decimal", "integer", "string", "token", "binary", "boolean", "list")


def parse_dictionary(lines: Sequence[bytes]) -> list[tuple[str, str, str]] | None:
    """(key, kind, text) per member of the field's lines, or None when invalid.

    §4.2: the lines are combined with commas and leading and trailing spaces dropped. A
    key seen twice keeps its last value, in the position of its first (§4.2.2: "If
    dictionary already contains a key ... overwrite its value"). A member without a
    value is the Boolean true. `text` is the string's content unescaped, the digits of
    a number, the token, "0"/"1" for a Boolean, and the raw text of a list.
    """
    try:
        value = b",".join(lines).decode("ascii").strip(" ")
    except UnicodeDecodeError:
        return None
    if not value:
        return None
    members: dict[str, tuple[str, str]] = {}
    pos, end = 0, len(value)
    while True:
        m = _MEMBER.match(value, pos)
        if m is None:
            return None
        kind, text = "boolean", "1"
        for k in _KINDS:
            got = m.group(k)
            if got is not None:
                kind, text = k, got
                break
        if kind == "string":
            text = _ESCAPED.sub(r"\1", text)
        members[m.group("key")] = (kind, text)
        pos = m.end()
        if pos == end:
            return [(key, kind, text) for key, (kind, text) in members.items()]
        sep = _SEPARATOR.match(value, pos)
        if sep is None or sep.end() == end:
            return None  # junk after a member, or a trailing comma
        pos = sep.end()

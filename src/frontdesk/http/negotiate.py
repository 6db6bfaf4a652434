"""Content-coding negotiation (RFC 9110 §12.5.3 Accept-Encoding). Pure.

Accept-Encoding = #( codings [ weight ] )
codings         = content-coding / "identity" / "*"
weight          = OWS ";" OWS "q=" qvalue
"""

from __future__ import annotations


def _qvalue(params: bytes) -> float | None:
    """The q parameter of one list member; None when it is malformed."""
    for param in params.split(b";"):
        name, eq, value = param.partition(b"=")
        if eq and name.strip().lower() == b"q":
            try:
                q = float(value.strip())
            except ValueError:
                return None
            # §12.4.2: qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )
            return q if 0.0 <= q <= 1.0 else None
    return 1.0


def parse_accept_encoding(value: bytes) -> dict[bytes, float]:
    """Coding (lower case) → weight; malformed members are skipped."""
    prefs: dict[bytes, float] = {}
    for member in value.split(b","):
        coding, _, params = member.partition(b";")
        coding = coding.strip().lower()
        if not coding:
            continue
        q = _qvalue(params) if params else 1.0
        if q is not None:
            prefs[coding] = q
    return prefs


# The coding names of content codings we know, and the aliases RFC 9110 §8.4.1.3
# requires a recipient to treat as equivalent.
_ALIASES = {b"x-gzip": b"gzip"}


def choose_encoding(value: bytes | None, available: tuple[str, ...]) -> str | None:
    """The content coding to send, "" for identity, or None when nothing is acceptable
    (the caller then sends identity anyway: RFC 9110 §12.5.3 allows it, and a 415 for
    a static file helps nobody).

    `available` lists the codings we can send besides identity, in server preference
    order; ties between equal weights go to the earlier one, and any weighed coding
    beats an identity the client did not weigh. RFC 9110 §12.5.3: no Accept-Encoding
    means no preference (we send identity, which every client reads); q=0 means "not
    acceptable"; "*" matches the codings not listed.
    """
    if value is None:
        return ""
    prefs = parse_accept_encoding(value)
    for alias, name in _ALIASES.items():
        if alias in prefs and name not in prefs:
            prefs[name] = prefs[alias]
    star = prefs.get(b"*")
    best = ""
    # identity not listed: acceptable "by default" (unless "*;q=0"), but with no
    # weight of its own it ranks below every coding the client did weigh.
    if b"identity" in prefs:
        best_q = prefs[b"identity"]
    else:
        best_q = 0.0 if star == 0.0 else 0.001
    # identity also loses ties: compressed codings are preferred at equal weight
    # (what browsers mean by "gzip, br").
    best_q_cmp = best_q - 1e-9 if best_q > 0 else best_q
    for coding in available:
        q = prefs.get(coding.encode("ascii"), star)
        if q is None or q <= 0.0:
            continue
        if q > best_q_cmp:
            best, best_q_cmp = coding, q
    if best == "" and best_q <= 0.0:
        return None
    return best

"""A stored response, with everything a hit needs already computed.

An Entry is immutable. It is built once when a response is stored (storage.py) and
rebuilt when a 304 freshens it (validation.py); the hit path (policy.decide) then reads
attributes and adds `now - response_time`: no header is parsed again.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..http.dates import parse_http_date
from .directives import CacheControl
from .fields import FieldTuple, get_all, get_first, parse_etag
from .freshness import age_value, corrected_initial_age, current_age, freshness_lifetime
from .options import CacheOptions
from .targeted import response_directives


@dataclass(frozen=True, slots=True)
class Entry:
    """One stored response (metadata; the body lives in the store, see `ref`)."""

    key: str  # primary key (keys.py)
    method: bytes  # b"GET" or b"HEAD": a HEAD entry only answers HEAD requests
    status: int
    headers: FieldTuple  # as stored: §3.1 exclusions removed, Date present
    cc: CacheControl
    vary: tuple[bytes, ...] | None  # names nominated by Vary (keys.vary_names)
    vary_values: tuple[bytes | None, ...]  # the request's values for them (keys.vary_values)
    request_time: float
    response_time: float
    date: float  # date_value (§4.2.3); response_time when Date was absent or invalid
    initial_age: float  # corrected_initial_age (§4.2.3)
    lifetime: float  # freshness_lifetime (§4.2.1)
    heuristic: bool  # lifetime came from §4.2.2
    etag: bytes | None
    last_modified: float | None
    content_length: int  # bytes of the stored body (for HEAD: of the GET it describes)
    tags: tuple[str, ...] = ()
    served: FieldTuple = ()  # `headers` without Age: what a hit sends (serve.py)
    invalid: bool = False  # §4.4 "mark them as invalid": validate before any reuse
    cc_field: bytes = b"cache-control"  # where `cc` was read: a targeted field (RFC 9213)
    ref: object = None  # the store's handle on the body; never read by the policy

    def age(self, now: float) -> float:
        """current_age at `now` (§4.2.3)."""
        return current_age(self.initial_age, self.response_time, now)

    def is_fresh(self, now: float) -> bool:
        """§4.2: "response_is_fresh = (freshness_lifetime > current_age)"."""
        return self.lifetime > current_age(self.initial_age, self.response_time, now)

    def ttl(self, now: float) -> float:
        """Remaining freshness lifetime (negative once stale): lifetime - current_age."""
        return self.lifetime - current_age(self.initial_age, self.response_time, now)

    def useful_until(self) -> float | None:
        """The time after which this entry can answer nothing, or None.

        An entry with a validator stays useful (a 304 can freshen it, §4.3.4) for as
        long as the store keeps it. So does one that may be served stale: besides the
        stale-while-revalidate / stale-if-error windows (RFC 5861), a cache whose origin
        cannot be reached may serve it at any age (§4.2.4, policy.stale_on_error). One
        whose directives forbid stale use (§4.2.4) is useful while fresh only.
        """
        if self.etag is not None or self.last_modified is not None:
            return None
        if not self.cc.forbids_stale:
            return None
        return self.response_time + self.lifetime - self.initial_age

    def never_reusable(self) -> bool:
        """No freshness lifetime (max-age=0, an Expires not after Date), no validator and
        no stale window: nothing but a disconnected origin could ever let it answer, and
        such responses are not kept (storage.on_response). Its age is not counted: Age
        never refuses storage (§5.1)."""
        if self.lifetime > 0 or self.etag is not None or self.last_modified is not None:
            return False
        cc = self.cc
        return cc.forbids_stale or not (cc.stale_while_revalidate or cc.stale_if_error)

    @property
    def variant(self) -> tuple[tuple[bytes, ...] | None, tuple[bytes | None, ...]]:
        """What tells this entry from others under the same key (Vary names and values)."""
        return self.vary, self.vary_values


def build_entry(
    *,
    key: str,
    method: bytes,
    status: int,
    headers: FieldTuple,
    request_time: float,
    response_time: float,
    vary: tuple[bytes, ...] | None,
    vary_values: tuple[bytes | None, ...],
    content_length: int,
    options: CacheOptions,
    tags: tuple[str, ...] = (),
    ref: object = None,
) -> Entry:
    """Read the stored header fields once and compute the entry's ages and lifetime."""
    cc, targeted = response_directives(headers, options.targeted_fields)
    cc_field = b"cache-control"
    if targeted:
        cc_field = next(n for n in options.targeted_fields if get_all(headers, n))
    date_raw = get_first(headers, b"date")
    parsed_date = parse_http_date(date_raw.decode("latin-1")) if date_raw is not None else None
    # RFC 9110 §6.6.1: without a (valid) Date the recipient uses the time received.
    date = float(parsed_date) if parsed_date is not None else response_time
    lm_raw = get_first(headers, b"last-modified")
    lm = parse_http_date(lm_raw.decode("latin-1")) if lm_raw is not None else None
    etag_raw = get_first(headers, b"etag")
    # What a hit sends, computed once: the stored fields without Age (replaced by the
    # current age, RFC 9111 §4).
    served = tuple((k, v) for k, v in headers if k.lower() != b"age")
    lifetime, heuristic = freshness_lifetime(
        cc,
        status,
        date,
        () if targeted else get_all(headers, b"expires"),  # RFC 9213 §2.1
        float(lm) if lm is not None else None,
        options,
    )
    age = age_value(get_all(headers, b"age"))
    return Entry(
        key=key,
        method=method,
        status=status,
        headers=headers,
        cc=cc,
        vary=vary,
        vary_values=vary_values,
        request_time=request_time,
        response_time=response_time,
        date=date,
        initial_age=corrected_initial_age(age, date, request_time, response_time),
        lifetime=lifetime,
        heuristic=heuristic,
        etag=parse_etag(etag_raw) if etag_raw is not None else None,
        last_modified=float(lm) if lm is not None else None,
        content_length=content_length,
        tags=tags,
        served=served,
        ref=ref,
        cc_field=cc_field,
    )

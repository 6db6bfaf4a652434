"""The policy driven as the shell will drive it: a dict as the store, time advancing.

Each step is one request; the scenario checks the action, the status sent and what the
store holds afterwards (RFC 9111 §3, §4, §4.3, §4.4; RFC 5861; RFC 9211).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cache_helpers import T0, h, request, response

from frontdesk.cache.entry import Entry
from frontdesk.cache.fields import get_first
from frontdesk.cache.invalidation import invalidated_keys
from frontdesk.cache.keys import primary_key
from frontdesk.cache.messages import CacheRequest, OriginResponse
from frontdesk.cache.options import CacheOptions
from frontdesk.cache.policy import Action, decide, on_response, stale_on_error
from frontdesk.cache.serve import answer
from frontdesk.cache.validation import freshen, validation_request_fields

OPTS = CacheOptions()


@dataclass
class Shell:
    """A minimal shell: the store is a dict key → list of entries; the origin a callable."""

    origin: list[OriginResponse | None]  # answers in order; None = connection failure
    store: dict[str, list[Entry]] = field(default_factory=dict)
    sent: list[tuple[bytes, tuple[tuple[bytes, bytes], ...]]] = field(default_factory=list)

    def ask_origin(
        self, req: CacheRequest, headers: tuple[tuple[bytes, bytes], ...]
    ) -> OriginResponse | None:
        self.sent.append((req.method, headers))
        return self.origin.pop(0)

    def put(self, entry: Entry) -> None:
        # one entry per variant (§4.1: a new response replaces the one it matches)
        kept = [e for e in self.store.get(entry.key, []) if e.variant != entry.variant]
        self.store[entry.key] = kept + [entry]

    def handle(self, req: CacheRequest, now: float) -> tuple[Action, int, bytes | None]:
        key = primary_key(req, OPTS.key)
        d = decide(req, self.store.get(key, []), now, OPTS)
        if d.action in (Action.HIT, Action.STALE_HIT, Action.STALE_REVALIDATE):
            assert d.entry is not None
            a = answer(req.method, req.headers, d.entry, now, status_member=d.status_member(OPTS))
            return d.action, a.status, get_first(a.headers, b"cache-status")
        if d.action is Action.GATEWAY_TIMEOUT:
            return d.action, 504, d.status_member(OPTS)
        headers = tuple(req.headers)
        if d.action is Action.VALIDATE:
            headers = validation_request_fields(req.headers, d.conditional)
        resp = self.ask_origin(req, headers)
        if resp is None or resp.status >= 500:
            if stale_on_error(d, now, None if resp is None else resp.status):
                assert d.entry is not None
                a = answer(req.method, req.headers, d.entry, now)
                return d.action, a.status, b"stale-if-error"
            return d.action, 502 if resp is None else resp.status, None
        if resp.status == 304 and d.action is Action.VALIDATE:
            f = freshen(d.validating, resp, OPTS)
            for old, new in f.updates:
                self.store[key].remove(old)
                if new is not None:
                    self.put(new)
            assert f.serve is not None
            a = answer(req.method, req.headers, f.serve, now)
            return d.action, a.status, d.status_member(OPTS, fwd_status=304)
        for k in invalidated_keys(req, resp.status, resp.headers, OPTS.key):
            self.store.pop(k, None)
        s = on_response(req, resp, OPTS)
        if s.entry is not None:
            self.put(s.entry)
        return d.action, resp.status, d.status_member(OPTS, fwd_status=resp.status, stored=s.store)


def ok(cc: str, at: float, etag: str = '"v1"', **more: str) -> OriginResponse:
    return response(200, h(cache_control=cc, etag=etag, **more), at=at)


def test_miss_store_hit_stale_validate_304_hit() -> None:
    shell = Shell(
        [
            ok("max-age=60", T0),
            response(304, h(etag='"v1"', cache_control="max-age=60"), at=T0 + 100),
        ]
    )
    r = request()
    assert shell.handle(r, T0) == (
        Action.FORWARD,
        200,
        b"frontdesk; fwd=uri-miss; fwd-status=200; stored",
    )
    assert shell.handle(r, T0 + 30) == (Action.HIT, 200, b"frontdesk; hit; ttl=30")
    action, status, member = shell.handle(r, T0 + 100)
    assert (action, status) == (Action.VALIDATE, 200)
    assert member == b"frontdesk; fwd=stale; fwd-status=304; ttl=-40"
    assert dict(shell.sent[-1][1])[b"if-none-match"] == b'"v1"'
    assert shell.handle(r, T0 + 130) == (Action.HIT, 200, b"frontdesk; hit; ttl=30")
    assert len(shell.sent) == 2


def test_client_revalidation_gets_304_from_cache() -> None:
    shell = Shell([ok("max-age=60", T0)])
    shell.handle(request(), T0)
    action, status, _ = shell.handle(request(headers=h(if_none_match='"v1"')), T0 + 1)
    assert (action, status) == (Action.HIT, 304)


def test_stale_if_error_then_recovery() -> None:
    shell = Shell(
        [
            ok("max-age=10, stale-if-error=100", T0),
            None,
            response(503, h(), at=T0 + 50),
            ok("max-age=10", T0 + 60, etag='"v2"'),
        ]
    )
    r = request()
    shell.handle(r, T0)
    assert shell.handle(r, T0 + 20)[1:] == (200, b"stale-if-error")
    assert shell.handle(r, T0 + 50)[1:] == (200, b"stale-if-error")
    assert shell.handle(r, T0 + 60)[:2] == (Action.VALIDATE, 200)
    assert shell.store[primary_key(r, OPTS.key)][0].etag == b'"v2"'


def test_must_revalidate_passes_error_on() -> None:
    shell = Shell([ok("max-age=10, must-revalidate, stale-if-error=100", T0), None])
    shell.handle(request(), T0)
    assert shell.handle(request(), T0 + 20) == (Action.VALIDATE, 502, None)


def test_post_invalidates_then_miss() -> None:
    shell = Shell([ok("max-age=600", T0), response(204, h(), at=T0 + 1), ok("max-age=600", T0 + 2)])
    shell.handle(request(), T0)
    shell.handle(request("POST"), T0 + 1)
    assert shell.handle(request(), T0 + 2)[0] is Action.FORWARD
    assert len(shell.sent) == 3


def test_vary_variants_coexist() -> None:
    shell = Shell(
        [
            ok("max-age=60", T0, vary="Accept-Encoding"),
            ok("max-age=60", T0, etag='"v2"', vary="Accept-Encoding"),
        ]
    )
    gz, br = request(headers=h(accept_encoding="gzip")), request(headers=h(accept_encoding="br"))
    shell.handle(gz, T0)
    assert shell.handle(br, T0)[2] == b"frontdesk; fwd=vary-miss; fwd-status=200; stored"
    assert shell.handle(gz, T0 + 1)[0] is Action.HIT
    assert shell.handle(br, T0 + 1)[0] is Action.HIT
    assert len(shell.store[primary_key(gz, OPTS.key)]) == 2


def test_only_if_cached_never_reaches_origin() -> None:
    shell = Shell([])
    assert shell.handle(request(headers=h(cache_control="only-if-cached")), T0)[:2] == (
        Action.GATEWAY_TIMEOUT,
        504,
    )
    assert shell.sent == []


def test_private_response_forwarded_every_time() -> None:
    shell = Shell([ok("private, max-age=60", T0), ok("private, max-age=60", T0 + 1)])
    assert shell.handle(request(), T0)[2] == b"frontdesk; fwd=uri-miss; fwd-status=200"
    assert shell.handle(request(), T0 + 1)[0] is Action.FORWARD

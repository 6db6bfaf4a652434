"""The hot lane's memo of conditional and range answers (CachedProxy.hot, reply.py slot
SHAPES): an answer looked up there is byte for byte the one made for the same request
on an entry with no memo, never one made for other fields, and counted the same."""

from __future__ import annotations

from types import SimpleNamespace
from unittest import mock

from cache_helpers import OPTIONS, T0, date, h, stored
from hypothesis import given, settings
from hypothesis import strategies as st

from frontdesk.cache.action import CachedProxy
from frontdesk.cache.memory import Stored, make_stored
from frontdesk.cache.reply import ROOM, SHAPES

BODY = bytes(range(256)) * 4
LM = date(T0 - 3600)
ETAG = b'"v1"'


class _Memory:
    """The memory tier as the hot lane sees it: one key, one stored variant."""

    def __init__(self, s: Stored) -> None:
        self.stored = (s,)

    def variants(self, key: str, now: float) -> tuple[Stored, ...]:
        return self.stored


def make_entry() -> Stored:
    e = stored(h(cache_control="max-age=100", etag=ETAG.decode(), last_modified=LM), body=len(BODY))
    return make_stored(e, BODY)


def make_action(s: Stored) -> CachedProxy:
    proxy = SimpleNamespace(max_body_size=None, policy=SimpleNamespace(via=b"fd"))
    runtime = SimpleNamespace(options=OPTIONS, memory=_Memory(s))
    action = CachedProxy(proxy, runtime)  # type: ignore[arg-type]
    action._hot_keys[(b"h", b"/a")] = "k"
    return action


def counts(action: CachedProxy) -> dict[tuple[bytes, int], int]:
    return {k: cell[0] for k, cell in (action.fast_other or {}).items()}


def ask(action: CachedProxy, method: bytes, fields: list[tuple[bytes, bytes]]) -> bytes | None:
    with mock.patch("time.time", return_value=T0 + 5.5):
        data = action.hot(method, b"/a", "/a", b"h", [(b"Host", b"h"), *fields], None)  # type: ignore[arg-type]
    assert data is None or isinstance(data, bytes)
    return data


NAMES = st.sampled_from(
    [b"If-None-Match", b"if-none-match", b"If-Modified-Since", b"Range", b"RANGE", b"If-Range"]
)
VALUES = st.sampled_from(
    [
        ETAG,
        b'W/"v1"',
        b'"v2"',
        b'"v2", "v1"',
        b"*",
        LM.encode(),
        date(T0 - 7200).encode(),
        b"bytes=0-99",
        b"bytes=-5",
        b"bytes=5000-",
        b"bytes=0-1,4-5",
        b"bytes=10-",
        b"nonsense",
    ]
)
SHAPE = st.tuples(
    st.sampled_from([b"GET", b"HEAD"]), st.lists(st.tuples(NAMES, VALUES), min_size=1, max_size=3)
)


@settings(max_examples=150, deadline=None)
@given(st.lists(SHAPE, min_size=1, max_size=12))
def test_memoised_answers_equal_answers_made_afresh(
    requests: list[tuple[bytes, list[tuple[bytes, bytes]]]],
) -> None:
    s = make_entry()
    action = make_action(s)
    for method, fields in requests:
        # Made afresh: on an entry with no memo, by the memo-less rule itself (the
        # fields as serve.answer reads them: names lower-cased, in order).
        fresh = make_entry()
        fresh_action = make_action(fresh)
        ask(fresh_action, method, [])  # renders this second's plain answers
        conditions = [(n.lower(), v) for n, v in fields]
        expected, status = fresh_action._hot_conditional(method, conditions, fresh)
        counted = {} if status == 200 and method == b"GET" else {(method, status): 1}
        before = counts(action)
        head_before = action.fast_head
        assert ask(action, method, fields) == expected
        # Counted as the memo-less lane counts it, memo or not.
        added = {k: n - before.get(k, 0) for k, n in counts(action).items()}
        assert {k: n for k, n in added.items() if n} == counted
        assert action.fast_head == head_before


def test_a_revalidation_is_a_lookup_after_the_first() -> None:
    s = make_entry()
    action = make_action(s)
    first = ask(action, b"GET", [(b"If-None-Match", ETAG)])
    assert first is not None and first.startswith(b"HTTP/1.1 304 ")
    memo = s.rendered[SHAPES]
    assert isinstance(memo, dict) and len(memo) == 1
    for _ in range(3):
        assert ask(action, b"GET", [(b"If-None-Match", ETAG)]) is first
    assert counts(action) == {(b"GET", 304): 4}
    # Another tag: another answer (the whole 200), not the 304.
    other = ask(action, b"GET", [(b"If-None-Match", b'"v2"')])
    assert other is not None and other.startswith(b"HTTP/1.1 200 ") and other.endswith(BODY)


def test_the_memo_is_bounded_by_the_entry_size() -> None:
    s = make_entry()
    action = make_action(s)
    for start in range(200):  # ever new ranges: each a 206 of its own
        data = ask(action, b"GET", [(b"Range", b"bytes=%d-" % start)])
        assert data is not None and data.endswith(BODY[start:])
        kept = s.rendered[SHAPES]
        assert isinstance(kept, dict)
        held = sum(len(d) for d, _ in kept.values())
        assert held <= len(BODY) + len(s.prepared.head) + 1024
        assert isinstance(s.rendered[ROOM], int) and s.rendered[ROOM] >= 0

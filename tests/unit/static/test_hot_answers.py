"""The hot lane answers conditional and range requests from answers respond() rendered
before for the same fields: byte for byte what respond() itself would send, and never
an answer rendered for other fields."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from frontdesk.config.static import Static
from frontdesk.server.clock import Clock
from frontdesk.server.request import Request
from frontdesk.static.action import StaticFiles, answer_key
from frontdesk.static.resource import Resource, Variant

BODY = bytes(range(256)) * 4  # 1 KiB
ETAG = b'"abc-400"'
LAST_MODIFIED = 1_700_000_000
LM_TEXT = b"Tue, 14 Nov 2023 22:13:20 GMT"


def make_action(tmp_path: Path) -> StaticFiles:
    action = StaticFiles(Static(root=str(tmp_path)), "/", "t")
    identity = Variant("", len(BODY), ETAG, (0, 0, len(BODY), 0), BODY)
    res = Resource("f.bin", LAST_MODIFIED, {"": identity}, (), (), content_type=b"application/x-t")
    res.in_memory = True
    res.expires = float("inf")
    action.memory["/f.bin"] = res
    return action


def request(method: bytes, headers: list[tuple[bytes, bytes]]) -> Request:
    return Request(method, b"/f.bin", "/f.bin", "", "1.1", headers, "h", True, "", False, False, 0)


def hot(action: StaticFiles, method: bytes, headers: list[tuple[bytes, bytes]], clock: Clock):
    return action.hot(method, b"/f.bin", "/f.bin", b"h", headers, clock)


def wire(action: StaticFiles, method: bytes, headers: list[tuple[bytes, bytes]], clock: Clock):
    resp = action.respond(request(method, headers))
    assert resp is not None
    if method == b"HEAD":
        return resp.head + clock.date_line + b"\r\n"
    return resp.rendered(clock.date_line)


SHAPES = [
    [(b"If-None-Match", ETAG)],  # a browser's revalidation: 304
    [(b"If-None-Match", b'"other"')],  # 200
    [(b"If-Modified-Since", LM_TEXT)],  # 304
    [(b"If-Modified-Since", b"Mon, 13 Nov 2023 22:13:20 GMT")],  # 200
    [(b"If-Match", b'"other"')],  # 412
    [(b"If-Unmodified-Since", b"Mon, 13 Nov 2023 22:13:20 GMT")],  # 412
    [(b"Range", b"bytes=0-99")],  # 206
    [(b"Range", b"bytes=5000-")],  # 416
    [(b"Range", b"bytes=0-99"), (b"If-Range", ETAG)],  # 206
    [(b"Range", b"bytes=0-99"), (b"If-Range", b'"old"')],  # 200
    [(b"range", b"bytes=-10"), (b"accept-encoding", b"gzip")],
]


def test_each_shape_is_answered_hot_after_its_first_request(tmp_path: Path) -> None:
    action = make_action(tmp_path)
    clock = Clock()
    statuses = []
    for headers in SHAPES:
        for method in (b"GET", b"HEAD"):
            assert hot(action, method, headers, clock) is None  # not rendered yet
            expected = wire(action, method, headers, clock)
            assert hot(action, method, headers, clock) == expected
            statuses.append(int(expected.split(b" ", 2)[1]))
    assert {200, 206, 304, 412, 416} <= set(statuses)


def test_shapes_taking_turns_get_their_own_answers_and_counts(tmp_path: Path) -> None:
    """The last shape answered is compared first (Resource.last_answer): shapes that
    alternate, in any spelling, must still each get their own answer, counted once."""
    action = make_action(tmp_path)
    clock = Clock()
    shapes = [SHAPES[i] for i in (0, 2, 4, 5, 6, 7)]  # small answers: all fit the memo
    expected = {i: wire(action, b"GET", headers, clock) for i, headers in enumerate(shapes)}
    for _ in range(3):
        for i, headers in enumerate(shapes):
            for spelled in (headers, [(n.lower(), v) for n, v in headers]):
                assert hot(action, b"GET", spelled, clock) == expected[i]
    counts = {key: cell[0] for key, cell in (action.fast_other or {}).items()}
    statuses = [int(expected[i].split(b" ", 2)[1]) for i in range(len(shapes))]
    for status in {206, 304, 412, 416}:
        assert counts[(b"GET", status)] == 6 * statuses.count(status)
    assert (b"GET", 200) not in counts  # counted by the runs


def test_a_304_for_one_etag_is_not_sent_for_another(tmp_path: Path) -> None:
    action = make_action(tmp_path)
    clock = Clock()
    wire(action, b"GET", [(b"If-None-Match", ETAG)], clock)
    assert hot(action, b"GET", [(b"If-None-Match", b'"x"')], clock) is None
    assert (
        hot(action, b"GET", [(b"If-None-Match", ETAG), (b"Accept-Encoding", b"br")], clock) is None
    )


def test_other_methods_never_take_the_hot_lane(tmp_path: Path) -> None:
    action = make_action(tmp_path)
    clock = Clock()
    wire(action, b"GET", [(b"If-None-Match", ETAG)], clock)
    assert hot(action, b"POST", [(b"If-None-Match", ETAG)], clock) is None


def test_answers_are_bounded_per_file(tmp_path: Path) -> None:
    action = make_action(tmp_path)
    clock = Clock()
    for i in range(500):
        wire(action, b"GET", [(b"Range", b"bytes=%d-%d" % (i, i + 10))], clock)
    assert len(action.memory["/f.bin"].answers) <= 64


def test_accept_encoding_values_choosing_one_variant_share_one_rendered_answer(
    tmp_path: Path,
) -> None:
    """Each plain answer holds a rendered copy of its body: the Accept-Encoding
    values that all choose the identity body must not make one copy each."""
    action = make_action(tmp_path)
    clock = Clock()
    values = [b"x-%d" % i for i in range(15)] + [None]  # _MEMO: 16 kept
    for value in values:
        headers = [] if value is None else [(b"Accept-Encoding", value)]
        got = wire(action, b"GET", headers, clock)
        assert got.endswith(BODY)
        assert hot(action, b"GET", headers, clock) == got
    responses = action.memory["/f.bin"].responses
    assert len(responses) == 16
    assert len({id(r) for r in responses.values()}) == 1


def test_answers_are_bounded_in_bytes_per_file(tmp_path: Path) -> None:
    """Big ranges of ever new shapes: what the memo holds stays about the file's size
    (each 206 is a slice of its own), and every answer is still right."""
    action = make_action(tmp_path)
    clock = Clock()
    for i in range(200):
        got = wire(action, b"GET", [(b"Range", b"bytes=%d-" % i)], clock)
        assert got.endswith(BODY[i:])
        assert hot(action, b"GET", [(b"Range", b"bytes=%d-" % i)], clock) in (None, got)
        answers = action.memory["/f.bin"].answers
        held = sum(len(r.head) + len(r.body) for r in answers.values())
        assert held <= len(BODY) + 4096


NAMES = st.sampled_from(
    [
        b"If-None-Match",
        b"if-modified-since",
        b"If-Match",
        b"If-Unmodified-Since",
        b"Range",
        b"If-Range",
        b"Accept-Encoding",
        b"Accept",
        b"Cookie",
    ]
)
VALUES = st.sampled_from(
    [
        ETAG,
        b'W/"abc-400"',
        b'"x", ' + ETAG,
        b"*",
        LM_TEXT,
        b"bytes=0-0",
        b"bytes=1-2,4-5",
        b"bytes=-1",
        b"gzip",
        b"br;q=0",
        b"",
        b"garbage",
    ]
)


@settings(max_examples=300, deadline=None)
@given(
    method=st.sampled_from([b"GET", b"HEAD"]),
    headers=st.lists(st.tuples(NAMES, VALUES), max_size=4),
)
def test_hot_answer_equals_respond(method: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    action = make_action(Path(tempfile.gettempdir()))
    clock = Clock()
    expected = wire(action, method, headers, clock)
    got = hot(action, method, headers, clock)
    if answer_key(method, headers) is not None or got is not None:
        assert got == expected

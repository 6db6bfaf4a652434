"""HTTP/2 flood defences: a frame scanner that sees every frame header before the `h2`
library parses the frame, and allowances (token buckets) per connection.

Pure (sans-I/O): bytes and `now` in, a verdict out; the connection sends GOAWAY with
ENHANCE_YOUR_CALM (RFC 9113 §7) and closes when `feed` returns a reason. What it
answers, and why each is needed:

- Rapid reset (CVE-2023-44487): a client opens streams and cancels them at once; the
  concurrency limit never bites because cancelled streams are closed, while the server
  has started work for each. RST_STREAM frames draw on an allowance of `max_resets`
  refilled at a tenth of that per second.
- CONTINUATION flood (CVE-2024-27316): a header block that never ends, spread over
  CONTINUATION frames, buffered until memory runs out. The block's encoded size is
  summed across its frames and capped (`max_block`): HPACK never encodes a field in
  more bytes than its decoded size counts (§6.5.2: name + value + 32), so a block
  bigger than the decoded limit is refused before anything is buffered or decoded.
- PING, SETTINGS and empty-frame floods (CVE-2019-9512, -9515, -9518): frames that
  cost the server work (an answer to queue, or a frame to process) but carry no
  request draw on an allowance of `max_control`: PING, SETTINGS, PRIORITY, unknown
  types, DATA without payload or END_STREAM, empty CONTINUATION. (Answers queued
  for a client that does not read are bounded by the connection: it stops reading
  while its write buffer is full.)

The HPACK bomb (a small block that decodes huge) is the decoder's limit
(h2conn.py sets it): decoding stops at the limit and the connection ends.

Since it walks every frame header anyway, the guard also notes where the HEADERS
frames that the connection's fast receive path may take start (`heads`): a whole
header block in one frame (END_HEADERS, no padding), entirely within the bytes fed,
and not inside another header block (which would be a CONTINUATION's place).
"""

from __future__ import annotations

import struct

__all__ = ["Allowance", "FrameGuard", "PREFACE"]

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"  # RFC 9113 §3.4, the client's first bytes

DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PUSH_PROMISE, PING, GOAWAY = range(8)
WINDOW_UPDATE, CONTINUATION = 8, 9
END_STREAM, END_HEADERS, PADDED, PRIORITY_FLAG = 0x1, 0x4, 0x8, 0x20
_CONTROL = frozenset({PRIORITY, SETTINGS, PING})
_KNOWN = frozenset(range(10))
_HEAD = struct.Struct(">BHBB")  # §4.1: Length (24 bits), Type, Flags (the id is not needed)


class Allowance:
    """A token bucket: `burst` tokens, refilled at `burst / period` per second."""

    __slots__ = ("tokens", "burst", "rate", "stamp")

    def __init__(self, burst: int, now: float, period: float = 10.0) -> None:
        self.burst = float(burst)
        self.tokens = float(burst)
        self.rate = burst / period
        self.stamp = now

    def take(self, now: float, n: int = 1) -> bool:
        """Spend `n` tokens; False when there were not enough (the flood verdict)."""
        tokens = self.tokens
        if tokens < self.burst:
            tokens = min(self.burst, tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if tokens < n:
            self.tokens = tokens
            return False
        self.tokens = tokens - n
        return True


class FrameGuard:
    """Follows the frame boundaries of a server connection's input (after the
    preface) and judges each frame header as it passes."""

    __slots__ = ("_skip", "_head", "_block", "_open", "heads", "max_block", "resets", "control")

    def __init__(self, max_block: int, max_resets: int, max_control: int, now: float) -> None:
        self._skip = len(PREFACE)  # bytes to pass before the next frame header
        self._head = b""  # a frame header split across reads
        self._block = 0  # encoded bytes of the header block being received
        self._open = False  # a header block awaits its CONTINUATION frames
        # Offsets (in the bytes last fed) of whole one-frame header blocks: see above.
        self.heads: list[int] = []
        self.max_block = max_block
        self.resets = Allowance(max_resets, now)
        self.control = Allowance(max_control, now)

    def feed(self, data: bytes, now: float) -> str | None:
        """None while `data` is acceptable, else why the connection must end."""
        i = 0
        n = len(data)
        heads = self.heads
        if heads:
            heads.clear()
        while i < n:
            skip = self._skip
            if skip:
                take = skip if skip < n - i else n - i
                self._skip = skip - take
                i += take
                continue
            head = self._head
            if head or n - i < 9:
                need = 9 - len(head)
                head += data[i : i + need]
                i += need
                if len(head) < 9:
                    self._head = head
                    return None
                self._head = b""
                high, low, kind, flags = _HEAD.unpack(head[:5])
                length = high << 16 | low
            else:
                high, low, kind, flags = _HEAD.unpack_from(data, i)
                length = high << 16 | low
                i += 9
                # RFC 9113 §6.2: a HEADERS frame with END_HEADERS carries a whole block.
                if (
                    kind == HEADERS
                    and flags & (END_HEADERS | PADDED) == END_HEADERS
                    and not self._open
                    and i + length <= n
                ):
                    heads.append(i - 9)
            why = self._frame(kind, flags, length, now)
            if why is not None:
                return why
            if i + length <= n:  # the payload is here: step over it
                i += length
            else:
                self._skip = length
        return None

    def _frame(self, kind: int, flags: int, length: int, now: float) -> str | None:
        if kind == HEADERS or kind == CONTINUATION:
            # §6.10: the frames of one block follow each other until END_HEADERS.
            self._open = not flags & END_HEADERS
            if kind == HEADERS:
                self._block = length
            else:
                self._block += length
                if length == 0 and not self.control.take(now):
                    return "flood of empty CONTINUATION frames"
            if self._block > self.max_block:
                return "header block too large"
            return None
        if kind == DATA:
            if length == 0 and not flags & END_STREAM and not self.control.take(now):
                return "flood of empty DATA frames"
            return None
        if kind == RST_STREAM:
            if not self.resets.take(now):
                return "too many stream resets"
            return None
        if kind in _CONTROL or kind not in _KNOWN:
            if not self.control.take(now):
                return "flood of control frames"
        return None

"""The ``[http2]`` table: HTTP/2 (RFC 9113) over TLS and, per listener, cleartext h2c.

HTTP/2 is offered by ALPN on every `tls = true` listener unless `enabled = false`; a
plain listener takes it with prior knowledge only when its table says `h2c = true`
(config/tls.py `Listener`). The limits below are what frontdesk advertises in its
SETTINGS frame (RFC 9113 §6.5.2) and enforces; the flood limits are per connection.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field

from .types import MODEL_CONFIG, Count, Size

__all__ = ["Http2", "MAX_WINDOW"]

MAX_WINDOW = 2**31 - 1  # RFC 9113 §6.9.1: a flow-control window is at most 2^31-1


class Http2(BaseModel):
    """The ``[http2]`` table: HTTP/2 settings, limits and flood defences."""

    model_config = MODEL_CONFIG

    enabled: bool = True
    """Offer HTTP/2 ("h2") by ALPN on TLS listeners, HTTP/1.1 staying the fallback.
    Cleartext HTTP/2 is per listener: { address = "...", h2c = true }. Default true."""

    max_concurrent_streams: Annotated[Count, Field(le=10000)] = 100
    """Most requests one connection may have in flight at once
    (SETTINGS_MAX_CONCURRENT_STREAMS); a client that opens more is refused with a
    connection error. Default 100 (as nginx and Caddy)."""

    max_header_list_size: Annotated[Size, Field(ge=1024)] = 32 * 1024
    """Largest decoded header section of a request, counted as RFC 9113 §6.5.2 counts
    it (name + value + 32 per field): a bigger one gets 431. HPACK decoding stops at
    twice this size and ends the connection (a compression bomb). Default "32KB"."""

    initial_window_size: Annotated[Size, Field(ge=65535, le=MAX_WINDOW)] = 256 * 1024
    """Request body bytes a client may send on one stream before frontdesk has passed
    them on (SETTINGS_INITIAL_WINDOW_SIZE): the window reopens as the route's action
    reads the body, so a slow backend slows the upload. Default "256KB"."""

    connection_window_size: Annotated[Size, Field(ge=65535, le=MAX_WINDOW)] = 1024 * 1024
    """The same for all the streams of one connection together. Default "1MB"."""

    max_resets: Count = 200
    """Streams a client may cancel (RST_STREAM) in a burst before the connection is
    closed with GOAWAY ENHANCE_YOUR_CALM; the allowance refills at a tenth of this
    per second (the "rapid reset" attack, CVE-2023-44487). Default 200."""

    max_control_frames: Count = 1000
    """Frames that carry no request in a burst: PING, SETTINGS, PRIORITY, empty DATA
    or CONTINUATION, unknown types. Over it the connection is closed with GOAWAY
    ENHANCE_YOUR_CALM; the allowance refills at a tenth of this per second (PING,
    SETTINGS and empty-frame floods). Default 1000."""

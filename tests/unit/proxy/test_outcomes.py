"""How a failed attempt counts for a server's health (proxy/handler.py outcome_of)."""

from __future__ import annotations

import pytest

from frontdesk.balance import Outcome
from frontdesk.errors import (
    UpstreamBusy,
    UpstreamConnectError,
    UpstreamError,
    UpstreamProtocolError,
    UpstreamTimeout,
)
from frontdesk.proxy.connection import CLIENT_GONE
from frontdesk.proxy.handler import outcome_of

CASES = [
    (UpstreamConnectError("refused"), Outcome.CONNECT_ERROR),
    (UpstreamTimeout("connect timeout"), Outcome.CONNECT_ERROR),
    (UpstreamTimeout("first byte timeout", sent=True), Outcome.TIMEOUT),
    (UpstreamProtocolError("invalid response", sent=True), Outcome.SERVER_ERROR),
    (UpstreamProtocolError("closed mid-response", sent=True), Outcome.SERVER_ERROR),
    (UpstreamProtocolError("closed before a response", sent=True, stale=True), Outcome.ABORTED),
    (UpstreamBusy("every connection busy"), Outcome.ABORTED),
    (CLIENT_GONE, Outcome.ABORTED),
]


@pytest.mark.parametrize(("exc", "outcome"), CASES)
def test_outcome_of(exc: UpstreamError, outcome: Outcome) -> None:
    assert outcome_of(exc) is outcome

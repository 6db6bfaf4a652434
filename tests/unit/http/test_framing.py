"""Transfer-Encoding rules (RFC 9112 §6.1, §6.3)."""

from __future__ import annotations

import pytest

from frontdesk.errors import ProtocolError
from frontdesk.http.framing import check_transfer_coding


@pytest.mark.parametrize("te", [b"chunked", b"Chunked", b" chunked ", b"chunked;x=1"])
def test_chunked_alone_is_accepted(te: bytes) -> None:
    check_transfer_coding(te)


@pytest.mark.parametrize(
    "te", [b"gzip", b"foo", b"chunked, gzip", b"chunked, chunked", b"", b",", b"chunked,chunked"]
)
def test_rfc9112_6_3_chunked_not_final_once_is_400(te: bytes) -> None:
    with pytest.raises(ProtocolError) as err:
        check_transfer_coding(te)
    assert err.value.status == 400


@pytest.mark.parametrize("te", [b"gzip, chunked", b"foo, chunked", b"deflate,chunked"])
def test_rfc9112_6_1_coding_not_decoded_is_501(te: bytes) -> None:
    with pytest.raises(ProtocolError) as err:
        check_transfer_coding(te)
    assert err.value.status == 501

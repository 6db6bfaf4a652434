from hypothesis import given
from hypothesis import strategies as st

from frontdesk.config.units import format_duration, format_size, parse_duration, parse_size

_UNIT_TEXT = st.sampled_from(["", "B", "k", "KB", "KiB", "m", "MB", "g", "GiB", "ms", "s", "h"])


@given(st.integers(min_value=0, max_value=2**70))
def test_size_round_trip(n: int) -> None:
    assert parse_size(format_size(n)) == n


@given(st.floats(min_value=0, max_value=1e15, allow_nan=False, allow_infinity=False))
def test_duration_round_trip(seconds: float) -> None:
    assert parse_duration(format_duration(seconds)) == seconds


@given(st.integers(min_value=0, max_value=10**6).map(lambda ms: ms / 1000))
def test_duration_round_trip_milliseconds(seconds: float) -> None:
    assert parse_duration(format_duration(seconds)) == seconds


@given(st.one_of(st.text(), st.builds(lambda n, u: f"{n}{u}", st.floats(), _UNIT_TEXT)))
def test_parse_size_only_raises_value_error(text: str) -> None:
    try:
        assert parse_size(text) >= 0
    except ValueError:
        pass


@given(st.one_of(st.text(), st.builds(lambda n, u: f"{n}{u}", st.floats(), _UNIT_TEXT)))
def test_parse_duration_only_raises_value_error(text: str) -> None:
    try:
        assert parse_duration(text) >= 0
    except ValueError:
        pass

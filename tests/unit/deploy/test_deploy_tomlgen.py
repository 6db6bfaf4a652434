"""The generated config is TOML that reads back as the data it was made from."""

from __future__ import annotations

import tomllib
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from frontdesk.deploy.tomlgen import dumps


def test_frontdesk_shapes_round_trip() -> None:
    data: dict[str, Any] = {
        "server": {"listen": ["127.0.0.1:8080"], "workers": 2, "access_log": "off"},
        "admin": {"listen": ""},
        "route": [
            {"match": {"path": "/static/"}, "static": {"root": "public"}},
            {"name": "web", "proxy": {"pool": "web"}},
        ],
        "pool": {"web": {"health": {"path": "/healthz", "interval": "1s"}}},
        "app": {
            "web": {
                "command": 'python -c "print(1)"',
                "env": {"PATH": "/x/bin:/usr/bin", "SECRET": 'a"b\\c\n\t\u00e9'},
                "instances": 2,
            },
            "my app": {"command": ["a", "b"]},
        },
        "cache": {},
    }
    text = dumps(data)
    assert tomllib.loads(text) == data
    assert "[[route]]" in text and "[app.web]" in text and '[app."my app"]' in text


def test_floats_and_booleans() -> None:
    data = {"t": {"a": 1.5, "b": True, "c": False, "d": -0.25, "e": 1e300}}
    assert tomllib.loads(dumps(data)) == data


_keys = st.text(min_size=1, max_size=8)
_scalars = st.one_of(
    st.text(max_size=20),
    st.integers(-(2**63), 2**63 - 1),
    st.booleans(),
    st.floats(allow_nan=False),
)
_values = st.recursive(
    _scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(_keys, inner, max_size=3)),
    max_leaves=8,
)


@given(st.dictionaries(_keys, st.dictionaries(_keys, _values, max_size=4), max_size=4))
def test_any_tables_round_trip(data: dict[str, Any]) -> None:
    assert tomllib.loads(dumps(data)) == data

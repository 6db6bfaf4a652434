"""docs/config.md is generated from the model: it must match what the model says now."""

from __future__ import annotations

from pathlib import Path

from frontdesk.config.model import Match, Redirect, Respond, Route, ServerConfig
from frontdesk.config.reference import render
from frontdesk.config.static import Static

DOC = Path(__file__).resolve().parents[3] / "docs" / "config.md"


def test_docs_config_md_is_current() -> None:
    assert DOC.read_text() == render(), "run: python -m frontdesk.config.reference > docs/config.md"


def test_every_field_is_documented() -> None:
    for model in (ServerConfig, Route, Match, Respond, Redirect, Static):
        for name, field in model.model_fields.items():
            assert field.description, f"{model.__name__}.{name} has no docstring"

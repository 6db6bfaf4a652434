"""The `static` route action's settings (placeholder: the static-files issue fills it in)."""

from __future__ import annotations

from pydantic import BaseModel

from .types import MODEL_CONFIG


class Static(BaseModel):
    """Serve files from a directory tree."""

    model_config = MODEL_CONFIG

    root: str
    """Directory to serve. Required."""

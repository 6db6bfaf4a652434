"""Config: TOML file → validated, frozen ``Config`` (see model.py for every key)."""

from .load import default_config, load_file, load_text
from .model import ACTIONS, Config, Match, Redirect, Respond, Route, ServerConfig, apply_env
from .units import format_duration, format_size, parse_duration, parse_size

__all__ = [
    "ACTIONS",
    "Config",
    "Match",
    "Redirect",
    "Respond",
    "Route",
    "ServerConfig",
    "apply_env",
    "default_config",
    "format_duration",
    "format_size",
    "load_file",
    "load_text",
    "parse_duration",
    "parse_size",
]

"""Request pipelines: each route's chain of layers (access → rate limit → cache →
action), composed once at load time above the features and the server shell."""

from frontdesk.pipeline.assemble import WRAPPERS, Parts, build_context, build_route
from frontdesk.pipeline.layer import Check, Guard, Layer, innermost

__all__ = [
    "WRAPPERS",
    "Parts",
    "build_context",
    "build_route",
    "Check",
    "Guard",
    "Layer",
    "innermost",
]

"""frontdesk: the one front server a Python web service needs."""

__version__ = "0.1.0"

"""frontdesk: the one front server a Python web service needs."""

from frontdesk.access.signed import sign_url

__version__ = "0.1.0"
__all__ = ["sign_url", "__version__"]

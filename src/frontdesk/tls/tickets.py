"""Session-ticket keys shared by every worker, so a TLS session resumes on any of them.

Python's ssl module has no API for the ticket key: each SSL_CTX makes a random one of
its own, and a ticket issued by worker A cannot be decrypted by worker B (a full
handshake instead of a resumption, for every client that lands on another worker).
The master makes one key (80 random bytes: a 16-byte name, a 32-byte HMAC secret and a
32-byte AES key, OpenSSL's layout), sends it to every worker over the control channel
and replaces it every `ticket_key_rotation`; each worker installs it with
SSL_CTX_ctrl(SSL_CTRL_SET_TLSEXT_TICKET_KEYS), a documented OpenSSL control
(SSL_CTX_set_tlsext_ticket_keys is a macro over it), called through ctypes on the
SSL_CTX that the SSLContext wraps.

The SSL_CTX pointer is the first field after the object header of CPython's
PySSLContext. Before writing through it, `install` checks that the pointer is the
right one: OpenSSL's own SSL_CTX_get_options on it must equal `context.options`, and
the key read back must equal the key written. When either check fails (another
Python build, another OpenSSL), nothing is written: each worker keeps its own key,
resumption works on the worker that issued the ticket, and `install` says so once.

Tickets are decrypted with the key of the SSL_CTX the connection started on (OpenSSL
uses `session_ctx`, not the one an SNI callback switches to), so the listener's
context is the one that matters; every context gets the key anyway.
"""

from __future__ import annotations

import ctypes
import os
import ssl

__all__ = ["KEY_SIZE", "new_key", "install", "supported"]

KEY_SIZE = 80  # OpenSSL >= 1.1: 16 name + 32 HMAC + 32 AES
_SET_KEYS = 59  # SSL_CTRL_SET_TLSEXT_TICKET_KEYS (openssl/ssl.h)
_GET_KEYS = 58  # SSL_CTRL_GET_TLSEXT_TICKET_KEYS


def new_key() -> bytes:
    """A fresh random ticket key (the master's job)."""
    return os.urandom(KEY_SIZE)


class _Lib:
    """libssl's two functions, found through the _ssl extension that links it."""

    def __init__(self) -> None:
        import _ssl

        lib = ctypes.CDLL(_ssl.__file__)
        self.ctrl = lib.SSL_CTX_ctrl
        self.ctrl.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_long, ctypes.c_void_p]
        self.ctrl.restype = ctypes.c_long
        self.get_options = lib.SSL_CTX_get_options
        self.get_options.argtypes = [ctypes.c_void_p]
        self.get_options.restype = ctypes.c_uint64


_lib: _Lib | None = None
_unsupported: str | None = None


def _load() -> _Lib | None:
    global _lib, _unsupported
    if _lib is None and _unsupported is None:
        try:
            _lib = _Lib()
        except (OSError, AttributeError, ImportError) as exc:
            _unsupported = f"libssl functions not found ({exc})"
    return _lib


def _ssl_ctx(context: ssl.SSLContext, lib: _Lib) -> int | None:
    # PySSLContext { PyObject_HEAD; SSL_CTX *ctx; ... } (Modules/_ssl.c)
    pointer = ctypes.c_void_p.from_address(id(context) + object.__basicsize__).value
    if not pointer or lib.get_options(pointer) != int(context.options):
        return None
    return pointer


def supported() -> str | None:
    """None when keys can be installed here, else why not."""
    lib = _load()
    if lib is None:
        return _unsupported
    probe = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    if _ssl_ctx(probe, lib) is None:
        return "the SSLContext layout of this Python is not the expected one"
    return None


def install(context: ssl.SSLContext, key: bytes) -> bool:
    """Make `key` the ticket key of `context`; False when that cannot be done here."""
    if len(key) != KEY_SIZE:
        raise ValueError(f"a ticket key is {KEY_SIZE} bytes, got {len(key)}")
    lib = _load()
    if lib is None:
        return False
    pointer = _ssl_ctx(context, lib)
    if pointer is None:
        return False
    buffer = ctypes.create_string_buffer(key, KEY_SIZE)
    if lib.ctrl(pointer, _SET_KEYS, KEY_SIZE, buffer) != 1:
        return False
    back = ctypes.create_string_buffer(KEY_SIZE)
    lib.ctrl(pointer, _GET_KEYS, KEY_SIZE, back)
    return back.raw == key

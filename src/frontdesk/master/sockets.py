"""Binding the listening sockets: a module of its own, importing nothing heavy, so that
`frontdesk serve` can bind the port before it loads the rest of the master (a platform
such as Heroku gives a dyno 60 s to bind $PORT; frontdesk binds within a second)."""

from __future__ import annotations

import socket


def bind(address: tuple[str, int], backlog: int) -> socket.socket:
    host, port = address
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if family == socket.AF_INET6 and host == "::":
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    sock.bind((host, port))
    sock.listen(backlog)
    sock.set_inheritable(True)
    return sock

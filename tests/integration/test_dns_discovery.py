"""DNS discovery on loopback: "localhost" (from /etc/hosts, no network) resolved by the
master and its addresses given to every worker as the pool's servers."""

from __future__ import annotations

import socket

from pool_helpers import hit, pool_cli, shares, wait_states


def local_addresses(port: int) -> list[str]:
    """What "localhost" resolves to here, as member ids (127.0.0.1, maybe [::1])."""
    infos = socket.getaddrinfo("localhost", port, type=socket.SOCK_STREAM)
    ips = sorted({str(i[4][0]) for i in infos})
    return [f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}" for ip in ips]


def name_pool(server, port: int, *more: str, balance: str = "p2c", workers: int = 1):
    """A frontdesk whose pool "p" is "localhost:`port`" to resolve, then `more` servers."""
    servers = ", ".join(
        [f'{{ address = "localhost:{port}", resolve = true }}'] + [f'"{s}"' for s in more]
    )
    routes = f"""
[[route]]
proxy = {{ pool = "p" }}

[pool.p]
balance = "{balance}"
resolve_interval = "0.2s"
servers = [{servers}]
"""
    return server(routes, workers=workers)


def test_a_name_becomes_its_addresses_in_every_worker(server, backends):
    a, b = backends("dns-a"), backends("dns-b")
    found = local_addresses(a.port)
    assert f"127.0.0.1:{a.port}" in found  # backends listen on 127.0.0.1 only
    srv = name_pool(server, a.port, b.address, balance="round_robin", workers=2)
    # Until the first lookup the name itself is a server; then its addresses are.
    wanted = {address: {"up": 2} for address in found} | {b.address: {"up": 2}}
    wait_states(srv, wanted, timeout=5)
    if found == [f"127.0.0.1:{a.port}"]:
        assert shares(hit(srv, 10)) == {"dns-a": 5, "dns-b": 5}
    log = srv.stderr_text()
    assert log.count(f"localhost:{a.port} resolves to {', '.join(found)}") == 1, log


def test_a_pool_of_one_name_is_balanced_and_can_be_drained(server, backends):
    a = backends("dns-one")
    srv = name_pool(server, a.port)
    found = local_addresses(a.port)
    wait_states(srv, {address: {"up": 1} for address in found}, timeout=5)
    assert {status for status, _ in hit(srv, 3)} == {200}
    # Named as the config lists it, the name stands for every address it resolved to.
    done = pool_cli(srv, "drain", "p", f"localhost:{a.port}")
    assert done.returncode == 0, done.stderr
    assert f"({', '.join(found)}) is now drain" in done.stdout
    wait_states(srv, {address: {"drain": 1} for address in found}, timeout=2)
    assert {status for status, _ in hit(srv, 3)} <= {502, 503}  # no server left to take it

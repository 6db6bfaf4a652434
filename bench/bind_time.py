"""How long `frontdesk serve` takes to bind $PORT (a platform such as Heroku kills a
dyno that has not bound its port within 60 s; frontdesk aims at under 1 s).

    .venv/bin/python bench/bind_time.py [--runs 5]

Starts `python -m frontdesk serve` on a small config with PORT set, polls the port with
connect() every 5 ms, prints the seconds from the start to the first accepted
connection, and stops the server; all on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CONFIG = """
[server]
listen = ["127.0.0.1:8080"]
workers = 2

[[route]]
respond = { body = "ok" }
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def once(config: Path) -> float:
    port = free_port()
    env = dict(os.environ, PORT=str(port))
    start = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "frontdesk", "serve", "-c", str(config)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        while time.monotonic() - start < 30:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.05).close()
                return time.monotonic() - start
            except OSError:
                time.sleep(0.005)
        raise RuntimeError("the port was not bound within 30 s")
    finally:
        proc.terminate()
        proc.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "frontdesk.toml"
        config.write_text(CONFIG)
        times = [once(config) for _ in range(runs)]
    print("serve -> $PORT accepting, s:", ", ".join(f"{t:.3f}" for t in times))


if __name__ == "__main__":
    main()

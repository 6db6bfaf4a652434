"""Instructions per request under `valgrind --tool=callgrind`: the counting half of
bench/instructions.py (HTTP/1.1) and bench/h2instructions.py (HTTP/2).

Each of those scripts re-runs itself as a child (`--child N ARGS...`) that serves N
requests and exits without teardown. The child runs twice, with N and 5N requests:
the difference divided by 4N is the figure, so start-up and imports cancel out.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

_COLLECTED = re.compile(r"Collected\s*:\s*(\d+)")


def _count(script: str, child_args: list[str], n: int, src: str | None) -> int:
    env = dict(os.environ)
    if src:
        env["PYTHONPATH"] = str(Path(src).resolve())
    argv = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null"]
    argv += [sys.executable, script, "--child", str(n), *child_args]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    m = _COLLECTED.search(done.stderr)
    if done.returncode != 0 or m is None:
        sys.exit(f"callgrind run failed:\n{done.stderr[-2000:]}")
    return int(m.group(1))


def per_request(script: str, child_args: list[str], n: int, src: str | None) -> float:
    """Instructions per request of `script --child N child_args` (`src`: a checkout's
    src directory to run instead of the installed package)."""
    low, high = _count(script, child_args, n, src), _count(script, child_args, 5 * n, src)
    return (high - low) / (4 * n)

"""Another worker on a shared memory tier (run by test_cache_shared.py, not collected).

python shared_child.py ROOT put PATH BODY   store PATH (max-age=60) with BODY
python shared_child.py ROOT delete PATH     delete PATH's key
python shared_child.py ROOT tag TAG         purge a tag
python shared_child.py ROOT fill N SIZE     store /f/0 .. /f/N-1 of SIZE bytes each
python shared_child.py ROOT bigger PATH BODY  as put, with a larger map (a reload that
                                            gave the cache more memory)
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from cache_helpers import T0
from store_helpers import entry, put

from frontdesk.cache.shared import SharedTier

KEY = "https://example.com"


async def main(root: str, mode: str, *args: str) -> None:
    size = 256 << 20 if mode == "bigger" else 1 << 20
    tier = SharedTier(Path(root), size, clock=lambda: T0 + 1)
    if mode in ("put", "bigger"):
        await put(tier, entry(args[0], tags=("t",)), args[1].encode())
    elif mode == "delete":
        await tier.delete(KEY + args[0])
    elif mode == "tag":
        await tier.purge_tag(args[0])
    elif mode == "fill":
        for i in range(int(args[0])):
            await put(tier, entry(f"/f/{i}"), b"x" * int(args[1]), chunk=1 << 16)
    await tier.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], *sys.argv[3:]))

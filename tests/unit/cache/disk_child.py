"""A second process on a shared disk tier (run by test_cache_disk.py, not collected).

python disk_child.py ROOT write N     commit N entries /c/0 .. /c/N-1, then exit
python disk_child.py ROOT hang        write half a body, say "ready", wait to be killed
"""

from __future__ import annotations

import asyncio
import sys

from store_helpers import entry, put

from frontdesk.cache.disk import DiskTier


async def main(root: str, mode: str, count: int) -> None:
    tier = DiskTier(root, 1 << 30)
    if mode == "write":
        for i in range(count):
            await put(tier, entry(f"/c/{i}"), f"child {i}".encode())
    else:
        w = tier.writer(entry("/half"))
        await w.write(b"x" * (1 << 20))  # over WRITE_BUFFER: on disk under tmp/
        print("ready", flush=True)
        await asyncio.sleep(60)
    await tier.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 0))

"""Token buckets shared by frontdesk instances: one Redis hash per key, updated by a
Lua script (atomic on the Redis server, so concurrent instances never both spend the
last token).

Each bucket expires once it would have refilled, so Redis holds only the buckets of
clients active within one refill period. If Redis does not answer within `timeout`,
the limit falls back to this process's own buckets (logged once per outage): a
limit that fails open per instance rather than refusing everyone.
"""

from __future__ import annotations

import logging
import time

from redis.asyncio import Redis
from redis.exceptions import RedisError

from frontdesk.access.buckets import Buckets, Taken

__all__ = ["RedisBuckets"]

log = logging.getLogger("frontdesk.error")

# KEYS[1] bucket; ARGV: rate, capacity, now (seconds, float). Returns {allowed, tokens*1000}.
_SCRIPT = """
local rate = tonumber(ARGV[1])
local capacity = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local held = redis.call('HMGET', KEYS[1], 't', 'at')
local tokens = capacity
if held[1] then
  tokens = tonumber(held[1]) + (now - tonumber(held[2])) * rate
  if tokens > capacity then tokens = capacity end
end
local allowed = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
end
redis.call('HSET', KEYS[1], 't', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil((capacity - tokens) / rate * 1000) + 1000)
return {allowed, math.floor(tokens * 1000)}
"""


class RedisBuckets:
    def __init__(
        self, url: str, namespace: str, rate: float, capacity: int, max_keys: int, timeout: float
    ) -> None:
        self.client = Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
        self.script = self.client.register_script(_SCRIPT)
        self.namespace = namespace
        self.rate = rate
        self.capacity = capacity
        self.local = Buckets(rate, capacity, max_keys)
        self.down = False

    async def take(self, key: str) -> Taken:
        now = time.time()
        try:
            allowed, milli = await self.script(
                keys=[self.namespace + key], args=[self.rate, self.capacity, now]
            )
        except (RedisError, OSError) as exc:
            if not self.down:
                log.error("rate limit: Redis unavailable (%s); limiting per instance", exc)
                self.down = True
            return self.local.take(key, time.monotonic())
        if self.down:
            log.warning("rate limit: Redis is back")
            self.down = False
        tokens = int(milli) / 1000.0
        reset = (self.capacity - tokens) / self.rate
        if allowed:
            return Taken(True, int(tokens), 0.0, reset)
        return Taken(False, 0, (1.0 - tokens) / self.rate, reset)

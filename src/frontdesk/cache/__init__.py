"""The RFC 9111 shared cache.

The policy modules here are pure (sans-I/O): plain data in, decisions out, `now` a
parameter. The storage tiers (memory, disk, redis_tier, tiered) and the proxy shell
call into them; they never call out.

- fields.py      header-field lists: lookup, list splitting, entity tags (RFC 9110 §5, §8.8.3)
- directives.py  Cache-Control parsing (RFC 9111 §5.2, §1.2.2; RFC 5861)
- options.py     CacheOptions: the policy's knobs (filled from the config file later)
- messages.py    CacheRequest, OriginResponse: what the shell hands in
- keys.py        primary cache key and Vary secondary keys (§2, §4.1)
- entry.py       Entry: a stored response with its directives and ages pre-computed
- freshness.py   freshness lifetime (§4.2.1, §4.2.2), Age (§4.2.3, §5.1)
- storage.py     on_response(): may a response be stored, and what of it (§3)
- policy.py      decide(): serve fresh, serve stale, validate, forward, 504 (§4)
- validation.py  conditional requests to the origin and the 304 update (§4.3, §3.2)
- serve.py       the answer built from a stored response: 200/304/206/416 (RFC 9110 §13, §14)
- invalidation.py  unsafe methods invalidate (§4.4)
- status.py      the Cache-Status field (RFC 9211)
- tags.py        Surrogate-Key / Cache-Tag

Storage (docs/cache.md, "Storage: the tiers"):

- store.py       CacheStore Protocol, Hit, Body, BodyWriter, TierStats (pure)
- record.py      the versioned byte form of an Entry (pure)
- s3fifo.py      S3-FIFO eviction bounded in bytes (pure)
- memory.py      MemoryTier: one process's memory; Stored, what a hit writes, prepared
- shared.py      SharedTier: the memory tier of every worker, a hot copy in each
- lmdb_store.py  its entries in LMDB, bounded by S3-FIFO over LMDB queues
- board.py       its per-key generations and hit counts, mapped by every worker
- disk.py        DiskTier: files shared by the workers of a machine
- redis_tier.py  RedisTier: shared by instances
- tiered.py      TieredStore: tiers stacked, fastest first
"""

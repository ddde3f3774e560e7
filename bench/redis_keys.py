"""Deleting what a bench run left on the shared Redis: the event streams and leases of its servers.

A run with `--workers N` serves on the Redis bus under a key prefix of its own; its streams hold
every event of the run (hundreds of MB after a fill of 100,000 descriptors), which Redis keeps in
memory until someone deletes them.
"""

from __future__ import annotations

import redis.asyncio as redis


async def drop_keys(url: str, prefix: str) -> int:
    """Delete every key under `prefix` (which must not be empty); the number deleted."""
    if not prefix:
        raise ValueError("an empty prefix would delete every key")
    client = redis.Redis.from_url(url)
    deleted = 0
    try:
        batch: list[bytes] = []
        async for key in client.scan_iter(match=f"{prefix}*", count=1000):
            batch.append(key)
            if len(batch) >= 500:
                deleted += await client.delete(*batch)
                batch.clear()
        if batch:
            deleted += await client.delete(*batch)
    finally:
        await client.aclose()
    return deleted

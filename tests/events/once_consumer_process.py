"""Run by a test as a real process: take one batch of a `once` sink on Redis, report it, hang until killed."""

from __future__ import annotations

import asyncio
import json
import sys

from titan_core.events.redis_bus import RedisBus


class _Sink:
    fanout = "once"

    def __init__(self, name: str) -> None:
        self.name = name

    async def deliver(self, events: object) -> None:  # never called: the process dies first
        return None


async def main(url: str, prefix: str, name: str) -> None:
    bus = RedisBus(
        url, prefix=prefix, retention=1000, backlog_limit=10_000, lease_ms=1000, instance_id="doomed"
    )
    await bus.start()
    feed = await bus.open_feed(_Sink(name))  # type: ignore[arg-type]
    while True:
        batch = await feed.next_batch(5, 1.0)
        if batch:
            print(json.dumps([item.titanseq for item in batch]), flush=True)
            await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))

"""The sink runner stops when asked, whatever it is doing at that moment (no event store needed)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence

from titan_core.delivery.bus import MemoryBus, OutgoingEvent
from titan_core.delivery.runner import SinkRunner
from titan_core.delivery.sink import Event
from titan_core.testing import RecordingSink


class _SignallingSink(RecordingSink):
    """Says when a batch was taken, so a test can act at the moment `deliver` has just returned."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.delivered = asyncio.Event()

    async def deliver(self, events: Sequence[Event]) -> None:
        await super().deliver(events)
        self.delivered.set()


async def test_stop_right_after_a_delivery_stops_the_runner() -> None:
    """A stop that lands while the runner collects a finished `deliver` must not be lost.

    Python 3.11's `asyncio.wait_for` returns the result instead of raising when its task is
    cancelled just after the awaited call finished; a runner that used it around `deliver` lost
    that cancellation, kept running, and `stop()` waited forever (a 300 s hang in a busy run of
    tests/events/test_redis_bus.py).
    """
    bus = MemoryBus(retention=100, backlog_limit=100)
    sink = _SignallingSink("signalling")
    runner = SinkRunner(bus, [sink], batch_size=10, timeout_s=5, retry_max_s=1)
    await runner.start()
    await bus.publish([OutgoingEvent(1, json.dumps({"titanseq": "1", "id": "id-1"}).encode())])
    async with asyncio.timeout(10):
        await sink.delivered.wait()
    # `deliver` has returned and the runner has not resumed from it yet: stop exactly now.
    # (Not under a timeout: stop() swallowing the timeout's own cancellation would hide a hang.)
    stopping = asyncio.create_task(runner.stop())
    done, _ = await asyncio.wait([stopping], timeout=10)
    if stopping not in done:
        for task in runner._tasks:
            task.cancel()  # once more, so that the test leaves nothing running
        await stopping
        raise AssertionError("the sink runner did not stop within 10 s of being asked")
    assert sink.seqs == [1]

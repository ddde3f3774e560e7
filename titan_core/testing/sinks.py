"""`RecordingSink`: a sink that keeps what it was given, and fails, refuses or hangs on request."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence

from titan_core.delivery.sink import Event, Fanout
from titan_core.testing.contract import SinkProbe
from titan_core.testing.waiting import wait_for_delivery


class RecordingSink:
    """Records every delivered event (`events`, `seqs`, `batch_sizes`, `arrival`).

    `fail_first`: the first calls raise. `hang`: every call waits for ever (a timeout test).
    `delay`: seconds each call takes. `refuse()`/`accept()`: raise on every call until accepted.
    `gate`: every call waits until the event is set, so a test can let events pile up behind a busy
    sink whatever the machine's speed, then open it.
    """

    def __init__(
        self,
        name: str,
        fanout: Fanout = "once",
        *,
        fail_first: int = 0,
        hang: bool = False,
        delay: float = 0.0,
        gate: asyncio.Event | None = None,
    ) -> None:
        self.name = name
        self.gate = gate
        self.fanout: Fanout = fanout
        self.fail_first = fail_first
        self.hang = hang
        self.delay = delay
        self.refusing = False
        self.events: list[Event] = []
        self.batch_sizes: list[int] = []
        self.calls = 0
        self.arrival: dict[int, float] = {}

    async def deliver(self, events: Sequence[Event]) -> None:
        self.calls += 1
        if self.hang:
            await asyncio.Event().wait()
        if self.calls <= self.fail_first or self.refusing:
            raise RuntimeError(f"sink {self.name} refuses call {self.calls}")
        if self.gate is not None:
            await self.gate.wait()
        if self.delay:
            await asyncio.sleep(self.delay)
        now = time.perf_counter()
        for item in events:
            self.arrival.setdefault(item.titanseq, now)
        self.events.extend(events)
        self.batch_sizes.append(len(events))

    def refuse(self) -> None:
        """Raise on every call from now on (a destination that is down)."""
        self.refusing = True

    def accept(self) -> None:
        self.refusing = False

    @property
    def seqs(self) -> list[int]:
        return [item.titanseq for item in self.events]

    @property
    def ids(self) -> list[str]:
        return [str(item.envelope["id"]) for item in self.events]

    def probe(self) -> SinkProbe:
        """How `check_sink_contract` sees this sink's destination: what it kept, refusing, accepting."""
        return SinkProbe(
            received=lambda: self.ids, break_destination=self.refuse, repair_destination=self.accept
        )

    async def wait_for(self, condition: Callable[[list[Event]], bool], timeout: float = 10.0) -> None:
        """Wait until `condition(events)` holds; fails after `timeout` s naming what did arrive."""
        await wait_for_delivery(
            lambda: condition(self.events),
            timeout=timeout,
            message=lambda: (
                f"sink {self.name} did not get what was expected: "
                f"{len(self.events)} events, last seq {self.seqs[-1:]}"
            ),
        )

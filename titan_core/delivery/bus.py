"""The `EventBus` contract, the in-process event log both buses keep, and the `memory` bus.

Published events are numbered by `titanseq`, contiguous and increasing. Each instance keeps the newest
events in an `EventLog` (the memory bus's whole history; the Redis bus's local tail), which serves
`/events`, `each_instance` sinks and `X-Titan-Seq` without a network round trip.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from abc import ABC, abstractmethod
from bisect import bisect_left, bisect_right
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from titan_core.delivery.sink import Event, EventSink

log = logging.getLogger(__name__)


class BusUnavailable(Exception):
    """The bus cannot be reached now; the caller keeps its events and retries later."""


class HistoryExpired(Exception):
    """Events after `after` are no longer retained; `oldest` is the oldest titanseq still there."""

    def __init__(self, after: int, oldest: int) -> None:
        super().__init__(f"events after titanseq {after} are no longer retained; the oldest is {oldest}")
        self.after = after
        self.oldest = oldest


@dataclass(frozen=True)
class OutgoingEvent:
    """What the relay publishes: the titanseq and the envelope's JSON (titanseq included)."""

    seq: int
    json: bytes


def event_from_json(data: bytes) -> Event:
    return Event(envelope=json.loads(data), json=data)


class EventLog:
    """The newest published events of this instance, in titanseq order, with waiting for new ones.

    Keeps at least `capacity` events, and beyond that every event a pinned reader (a sink of this
    instance) has not consumed, up to `backlog_limit` events; dropping past a pin is logged and counted.
    """

    def __init__(self, *, capacity: int, backlog_limit: int) -> None:
        self.capacity = capacity
        self.backlog_limit = max(backlog_limit, capacity)
        self._events: list[Event] = []
        self._seqs: list[int] = []
        self._start = 0
        # Every event with seq <= floor is gone (or was published before this log began).
        self.floor = 0
        self.head = 0
        self._arrived = asyncio.Event()
        self.pins: dict[str, int] = {}
        self.dropped_unconsumed = 0
        # Dropped events not yet freed. Freeing one costs about a microsecond (its envelope's dict and
        # strings), so the 10,000 events one compaction drops would stall the event loop for over
        # 10 ms at once; each append frees a few instead (`_free_retired`).
        self._retired: deque[Event] = deque()

    def reset(self, head: int) -> None:
        """Start empty at `head`: what came before is not in this log."""
        self._retired.extend(self._events)
        self._events, self._seqs, self._start = [], [], 0
        self.floor = self.head = head

    def __len__(self) -> int:
        return len(self._seqs) - self._start

    @property
    def oldest(self) -> int:
        """The oldest titanseq held (head + 1 when empty)."""
        return self._seqs[self._start] if len(self) else self.head + 1

    def append(self, events: Sequence[Event]) -> None:
        fresh = [item for item in events if item.titanseq > self.head]
        if not fresh:
            return
        self._events.extend(fresh)
        self._seqs.extend(item.titanseq for item in fresh)
        self.head = fresh[-1].titanseq
        arrived, self._arrived = self._arrived, asyncio.Event()
        arrived.set()
        if len(self) > self.capacity:
            self._trim()
        self._free_retired(len(fresh))

    def pin(self, name: str, seq: int) -> None:
        """Reader `name` has consumed up to `seq`: what only it held back may now be dropped."""
        self.pins[name] = seq
        if len(self) > self.capacity:
            self._trim()

    def covers(self, after: int) -> bool:
        return after >= self.floor

    def read(self, after: int, limit: int) -> list[Event]:
        """Up to `limit` events with titanseq > `after`; `HistoryExpired` if some were dropped."""
        if after < self.floor:
            raise HistoryExpired(after, self.oldest)
        index = bisect_right(self._seqs, after, lo=self._start)
        return self._events[index : index + limit]

    async def wait(self, after: int, timeout: float) -> bool:
        """Wait until an event newer than `after` is here; False when `timeout` seconds passed first."""
        deadline = time.monotonic() + timeout
        while self.head <= after:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            try:
                # Not wait_for: on Python 3.11 it drops a cancellation that lands as an event
                # arrives, and the sink runner waiting here would not stop.
                async with asyncio.timeout(remaining):
                    await self._arrived.wait()
            except TimeoutError:
                return False
        return True

    def _trim(self) -> None:
        count = len(self)
        pinned_from = min(self.pins.values()) + 1 if self.pins else self.head + 1
        unpinned = bisect_left(self._seqs, pinned_from, lo=self._start) - self._start
        drop = max(min(count - self.capacity, unpinned), count - self.backlog_limit)
        if drop <= 0:
            return
        if drop > unpinned:
            behind = sorted(
                name for name, seq in self.pins.items() if seq < self._seqs[self._start + drop - 1]
            )
            self.dropped_unconsumed += drop - unpinned
            log.error(
                "event backlog over its limit (%d events, setting event_backlog_limit): dropped %d events "
                "that sinks %s had not consumed; they will not be delivered to them",
                self.backlog_limit, drop - unpinned, ", ".join(behind),
            )  # fmt: skip
        self._start += drop
        self.floor = self._seqs[self._start - 1]
        if self._start > 4096 and self._start * 2 > len(self._seqs):
            self._retired.extend(self._events[: self._start])
            del self._events[: self._start]
            del self._seqs[: self._start]
            self._start = 0

    def _free_retired(self, appended: int) -> None:
        """Free twice as many dropped events as were just appended (and a few more), so the pile
        shrinks faster than it grows while no single append stalls the loop."""
        retired = self._retired
        for _ in range(min(len(retired), 2 * appended + 32)):
            retired.popleft()


class SinkFeed(Protocol):
    """One sink's reading position on the bus: batches out, acknowledgements in."""

    name: str
    # The titanseq of the last event acknowledged (or where reading began).
    position: int

    @property
    def active(self) -> bool:
        """Whether this instance delivers to the sink now (a `once` sink is active on one instance)."""

    async def next_batch(self, limit: int, timeout: float) -> list[Event]:
        """The next events (at most `limit`), waiting up to `timeout` s; may raise `HistoryExpired`."""

    async def ack(self, events: Sequence[Event]) -> None: ...

    async def skip_to(self, seq: int) -> None:
        """Continue after `seq` (after a `HistoryExpired`: the events before are lost to this sink)."""

    async def close(self) -> None: ...


class EventBus(ABC):
    """Where the relay publishes and sinks, `/events` and the `X-Titan-Seq` header read."""

    kind: ClassVar[str]

    def __init__(self, *, retention: int, backlog_limit: int) -> None:
        self.retention = retention
        self.backlog_limit = backlog_limit
        self.log = EventLog(capacity=retention, backlog_limit=backlog_limit)

    def head(self) -> int:
        """The newest titanseq this instance has seen (cheap; may trail the bus by milliseconds)."""
        return self.log.head

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    @abstractmethod
    async def published_head(self) -> int:
        """The newest titanseq on the bus itself (the relay publishes only what is newer)."""

    @abstractmethod
    async def publish(self, events: Sequence[OutgoingEvent]) -> None:
        """Append events in titanseq order; ones already on the bus are skipped. `BusUnavailable`."""

    async def read(self, after: int, limit: int) -> list[Event]:
        """Up to `limit` events after titanseq `after`; `HistoryExpired` past retention."""
        return self.log.read(after, limit)

    async def oldest(self) -> int:
        """The oldest retained titanseq (head + 1 when there is none)."""
        return self.log.oldest

    async def wait(self, after: int, timeout: float) -> bool:
        return await self.log.wait(after, timeout)

    @abstractmethod
    async def open_feed(self, sink: EventSink) -> SinkFeed:
        """The feed of a sink, positioned where it left off (or at the head for a new one)."""

    async def maintain(self, needed: Mapping[str, int] | None = None) -> None:
        """Housekeeping the relay leader runs now and then (trimming the shared stream).

        `needed`: per `once` sink, the oldest titanseq it still needs (its durable position + 1).
        """
        return None

    def status(self) -> dict[str, Any]:
        return {"kind": self.kind, "head": str(self.head()), "oldest": str(self.log.oldest)}


class PositionFeed(ABC):
    """A feed that reads the bus from a position of its own, each instance for itself.

    Subclasses tell their bus how far the feed got (`_note`), so that the bus keeps what it still
    needs, and that it needs nothing more (`close`).
    """

    def __init__(self, bus: EventBus, name: str, start: int) -> None:
        self.name = name
        self.position = start
        self._bus = bus

    @property
    def active(self) -> bool:
        return True

    async def next_batch(self, limit: int, timeout: float) -> list[Event]:
        events = await self._bus.read(self.position, limit)
        if events or not await self._bus.wait(self.position, timeout):
            return events
        return await self._bus.read(self.position, limit)

    async def ack(self, events: Sequence[Event]) -> None:
        if events:
            await self.skip_to(max(self.position, events[-1].titanseq))

    async def skip_to(self, seq: int) -> None:
        self.position = seq
        self._note(seq)

    @abstractmethod
    def _note(self, seq: int) -> None:
        """The feed has consumed up to `seq`."""

    @abstractmethod
    async def close(self) -> None: ...


class CursorFeed(PositionFeed):
    """A feed of the memory bus, pinned in the log while it lags."""

    def __init__(self, bus: EventBus, name: str, start: int) -> None:
        super().__init__(bus, name, start)
        bus.log.pins[name] = start

    def _note(self, seq: int) -> None:
        self._bus.log.pin(self.name, seq)

    async def close(self) -> None:
        self._bus.log.pins.pop(self.name, None)


class MemoryBus(EventBus):
    """The embedded default: one instance, everything in this process.

    After a restart the pipeline primes it from the outbox, so `/events` keeps its history.
    """

    kind = "memory"

    async def published_head(self) -> int:
        return self.log.head

    async def publish(self, events: Sequence[OutgoingEvent]) -> None:
        self.log.append([event_from_json(item.json) for item in events if item.seq > self.log.head])

    def prime(self, events: Sequence[OutgoingEvent]) -> None:
        """Load history published before this process started (oldest first)."""
        if events:
            self.log.reset(events[0].seq - 1)
            self.log.append([event_from_json(item.json) for item in events])

    async def open_feed(self, sink: EventSink) -> SinkFeed:
        return CursorFeed(self, sink.name, self.log.head)

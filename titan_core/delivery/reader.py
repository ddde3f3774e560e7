"""The read side of the event bus: the head, the retained history (filtered, for one principal), and
following new events from a titanseq with no gap and no duplicate.

`GET /events`, the WebSocket plugin and pull transports (Server-Sent Events, a file feed) read
through an `EventReader`, never through the bus's own log: the bus is internal and may change.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

from titan_core.auth import Principal, may_read
from titan_core.delivery.bus import BusUnavailable, EventBus
from titan_core.delivery.filters import EventFilter
from titan_core.delivery.sink import Event

# A filter that matches rarely must not make one call walk the whole history.
SCAN_BUDGET = 20_000
_SCAN_CHUNK = 1000
# How long `follow` waits for news per round before it looks again (its caller may stop meanwhile).
_FOLLOW_WAIT_S = 1.0


@dataclass(frozen=True)
class EventPage:
    """Matching events, and the titanseq to continue after (the last event looked at, matching or not)."""

    events: list[Event]
    cursor: int


class EventReader:
    """Reads the events this instance's bus retains. Every read may raise `HistoryExpired` (the
    events after `after` are gone: `oldest` says from where history is kept) or `BusUnavailable`."""

    def __init__(self, bus: EventBus) -> None:
        self._bus = bus

    def head(self) -> int:
        """The newest titanseq this instance has seen: subscribe `since` it to get only new events."""
        return self._bus.head()

    async def oldest(self) -> int:
        """The oldest retained titanseq (head + 1 when none is). When the bus cannot be asked, the
        oldest this instance holds itself: a lower bound good enough for a greeting."""
        try:
            return await self._bus.oldest()
        except BusUnavailable:
            return self._bus.log.oldest

    async def read(self, after: int, limit: int) -> list[Event]:
        """Up to `limit` events with titanseq > `after`, unfiltered, in titanseq order."""
        return await self._bus.read(after, limit)

    async def wait(self, after: int, timeout: float) -> bool:
        """Wait until an event newer than `after` is here; False when `timeout` seconds passed first."""
        return await self._bus.wait(after, timeout)

    async def replay(
        self,
        after: int,
        *,
        event_filter: EventFilter | None = None,
        principal: Principal,
        limit: int = 100,
        wait: float = 0.0,
    ) -> EventPage:
        """Up to `limit` events after `after` that match `event_filter` and `principal` may read,
        waiting up to `wait` seconds for the first one. The principal is required: reading for
        nobody in particular would read with every role.

        Scans at most `SCAN_BUDGET` events per call: a page may come back empty with its cursor
        moved on, and the caller continues from that cursor.
        """
        deadline = time.monotonic() + wait
        cursor = after
        matched: list[Event] = []
        scanned = 0
        while True:
            chunk = await self._bus.read(cursor, _SCAN_CHUNK)
            for item in chunk:
                cursor = item.titanseq
                if (event_filter is None or event_filter.matches(item.envelope)) and may_read(
                    principal, item.envelope
                ):
                    matched.append(item)
                    if len(matched) >= limit:
                        return EventPage(matched, cursor)
            scanned += len(chunk)
            if matched or scanned >= SCAN_BUDGET:
                return EventPage(matched, cursor)
            if len(chunk) == _SCAN_CHUNK:
                continue
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not await self._bus.wait(cursor, remaining):
                return EventPage(matched, cursor)

    async def follow(
        self,
        since: int | None = None,
        *,
        event_filter: EventFilter | None = None,
        principal: Principal,
        batch: int = 100,
    ) -> AsyncIterator[Event]:
        """The matching, readable events after `since` (None: from now on): the retained history
        first, then each new event as it is published, for as long as the caller iterates.

        `since` is exclusive, as on the WebSocket and `GET /events`. A `since` older than retention
        raises `HistoryExpired` at the first step; so does a caller that falls behind retention.
        """
        cursor = self.head() if since is None else since
        while True:
            page = await self.replay(
                cursor, event_filter=event_filter, principal=principal, limit=batch, wait=_FOLLOW_WAIT_S
            )
            cursor = page.cursor
            for event in page.events:
                yield event

"""One subscription of a connection: its filter, its position (`cursor`), the events held back while
it catches up on history, and the per-element throttle of `valueChanged` events.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from titan_core.plugin_api import Event, EventFilter, short_type
from titan_plugin_ws.protocol import event_prefix

# Live events held back while a subscription replays history, before they are dropped and read
# from the bus again instead (only references: the events themselves are shared).
MAX_HELD_LIVE = 50_000
_THROTTLE_TIDY_AT = 4096


class Subscription:
    """A subscription's state. The connection feeds it events in titanseq order; `cursor` is the
    titanseq of the last event it looked at, so an event at or below it is never looked at twice.

    While it catches up on history, live events go to `held_live` instead (None once live); the
    switch to live happens without awaiting, so no event falls between history and live.
    """

    __slots__ = ("active", "cursor", "filter", "held_live", "held_overflowed", "id", "prefix", "profile",
                 "replay_task", "throttle", "throttle_ms")  # fmt: skip

    def __init__(
        self,
        identifier: str,
        event_filter: EventFilter,
        cursor: int,
        throttle_ms: int,
        profile: str = "titan",
    ) -> None:
        self.id = identifier
        # "titan" (the stored envelope as it is) or "async-aas" (built by the hub's ProfileCache).
        self.profile = profile
        self.filter = event_filter
        self.cursor = cursor
        self.prefix = event_prefix(identifier)
        self.held_live: list[Event] | None = []
        # Set when held_live outgrew MAX_HELD_LIVE and was emptied: history must be read again.
        self.held_overflowed = False
        self.throttle: Throttle | None = None
        self.throttle_ms = throttle_ms
        self.replay_task: asyncio.Task[None] | None = None
        self.active = True

    @property
    def live(self) -> bool:
        return self.held_live is None

    def hold(self, event: Event) -> None:
        held = self.held_live
        assert held is not None
        if len(held) >= MAX_HELD_LIVE:
            held.clear()
            self.held_overflowed = True
        held.append(event)

    def close(self) -> None:
        self.active = False
        self.held_live = None
        if self.throttle is not None:
            self.throttle.close()
        task = self.replay_task
        if task is not None and not task.done() and task is not asyncio.current_task():
            task.cancel()


class Throttle:
    """At most one `valueChanged` per element and interval, always the newest.

    The first change of an element goes out at once; later ones within the interval are held, each
    replacing the one held before, and the held one goes out when the interval is over. Any other
    event of the element first releases the held change, so each element's events stay in order.
    """

    def __init__(self, interval_ms: int, send: Callable[[Event], None]) -> None:
        self.interval = interval_ms / 1000
        self._send = send
        self._last_sent: dict[str, float] = {}
        self._held: dict[str, Event] = {}
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._closed = False

    def offer(self, event: Event) -> None:
        key = str(event.envelope.get("source"))
        if short_type(str(event.envelope.get("type"))) != "valueChanged":
            if key in self._held:
                self._release(key)
            self._send(event)
            return
        if key in self._held:
            self._held[key] = event
            return
        now = time.monotonic()
        last = self._last_sent.get(key)
        if last is None or now - last >= self.interval:
            self._last_sent[key] = now
            if len(self._last_sent) > _THROTTLE_TIDY_AT:
                self._tidy(now)
            self._send(event)
            return
        self._held[key] = event
        loop = asyncio.get_running_loop()
        # Wall-clock moments of time.monotonic() and of the loop's clock differ; wait the rest.
        self._timers[key] = loop.call_later(last + self.interval - now, self._release, key)

    def _release(self, key: str) -> None:
        timer = self._timers.pop(key, None)
        if timer is not None:
            timer.cancel()
        event = self._held.pop(key, None)
        if event is None or self._closed:
            return
        self._last_sent[key] = time.monotonic()
        self._send(event)

    def _tidy(self, now: float) -> None:
        for key in [key for key, sent in self._last_sent.items() if now - sent >= self.interval]:
            if key not in self._held:
                del self._last_sent[key]

    def close(self) -> None:
        self._closed = True
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        self._held.clear()

"""The sink runner: one task per sink, each with its own feed, batches, retries and timeout.

A sink advances only after `deliver` returned; one that raises gets the same batch again after an
exponential backoff, one that hangs is cut off by the timeout and retried. No sink waits for another.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from titan_core.delivery.bus import BusUnavailable, EventBus, HistoryExpired, SinkFeed
from titan_core.delivery.sink import Event, EventSink, requested_batch_size, retry_signal
from titan_core.delivery.stopping import cancel_and_wait

log = logging.getLogger(__name__)

_IDLE_WAIT_S = 1.0
_FIRST_RETRY_S = 0.1
_BUS_RETRY_MAX_S = 0.5
_LAG_LOG_EVERY_S = 60.0
_LAG_WORTH_LOGGING = 1000


@dataclass
class SinkState:
    """How one sink is doing, for `/ready` and the log."""

    name: str
    fanout: str
    delivered_seq: int = 0
    delivered_events: int = 0
    failures: int = 0
    failed_attempts: int = 0  # since start (`failures` counts the current run), for /metrics
    lost_events: int = 0
    last_error: str = ""
    failing_since: float | None = None
    active: bool = False

    def as_dict(self, head: int) -> dict[str, Any]:
        return {
            "name": self.name,
            "fanout": self.fanout,
            "active": self.active,
            "delivered": str(self.delivered_seq),
            "lag": max(0, head - self.delivered_seq) if self.active else None,
            "failing": self.failing_since is not None,
            "consecutive_failures": self.failures,
            "last_error": self.last_error,
            "lost_events": self.lost_events,
        }


class SinkRunner:
    def __init__(
        self,
        bus: EventBus,
        sinks: Sequence[EventSink],
        *,
        batch_size: int,
        timeout_s: float,
        retry_max_s: float,
        open_feed: Callable[[EventSink], Awaitable[SinkFeed]] | None = None,
    ) -> None:
        check_sinks(sinks)
        # Where a sink's feed comes from: the bus by default; the pipeline gives `once` sinks on a
        # shared bus their durable, fenced feed (once_feed.py).
        self.open_feed = open_feed
        self.bus = bus
        self.sinks = list(sinks)
        self.batch_size = batch_size
        self.timeout_s = timeout_s
        self.retry_max_s = retry_max_s
        self.states = {sink.name: SinkState(sink.name, sink.fanout) for sink in sinks}
        self._feeds: dict[str, SinkFeed] = {}
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        """Open every sink's feed (positions taken now), then start delivering."""
        for sink in self.sinks:
            feed = await (self.open_feed or self.bus.open_feed)(sink)
            self._feeds[sink.name] = feed
            self.states[sink.name].delivered_seq = feed.position
        for sink in self.sinks:
            task = asyncio.create_task(
                self._run(sink, self._feeds[sink.name]), name=f"titan-sink-{sink.name}"
            )
            self._tasks.append(task)

    async def stop(self) -> None:
        await cancel_and_wait(self._tasks)
        self._tasks.clear()
        for feed in self._feeds.values():
            with contextlib.suppress(Exception):
                await feed.close()

    @property
    def feeds(self) -> dict[str, SinkFeed]:
        """Each sink's feed by sink name (read-only use: `/ready` and `/metrics` ask `owner()`)."""
        return dict(self._feeds)

    def statuses(self) -> list[dict[str, Any]]:
        head = self.bus.head()
        for name, feed in self._feeds.items():
            self.states[name].active = feed.active
        return [state.as_dict(head) for state in self.states.values()]

    async def _run(self, sink: EventSink, feed: SinkFeed) -> None:
        state = self.states[sink.name]
        pause = _FIRST_RETRY_S
        lag_logged = time.monotonic()
        # A sink may ask for batches of its own size (optional attribute `batch_size`): one that
        # pipelines, like the MQTT publisher, waits once per batch for its acknowledgements.
        batch_size = requested_batch_size(sink) or self.batch_size
        while True:
            before = feed.position
            try:
                batch = await feed.next_batch(batch_size, _IDLE_WAIT_S)
            except HistoryExpired as expired:
                lost = max(expired.oldest - 1 - feed.position, 0)
                first_lost = feed.position + 1
                try:
                    await feed.skip_to(expired.oldest - 1)
                except BusUnavailable as exc:
                    state.last_error = f"bus unavailable: {exc}"
                    await asyncio.sleep(pause)
                    continue
                if feed.position >= expired.oldest - 1:  # counted once, by whoever moved past them
                    state.lost_events += lost
                    log.error(
                        "sink %r lost %d events (titanseq %d to %d): no longer retained",
                        sink.name, lost, first_lost, expired.oldest - 1,
                    )  # fmt: skip
                state.delivered_seq = feed.position
                continue
            except BusUnavailable as exc:
                state.last_error = f"bus unavailable: {exc}"
                await asyncio.sleep(pause)
                # Asking the bus is cheap: retry often, so delivery (and /ready) recover within a second.
                pause = min(pause * 2, _BUS_RETRY_MAX_S)
                continue
            if state.last_error.startswith("bus unavailable"):
                state.last_error = ""  # the bus is back: no stale error on /ready
            pause = _FIRST_RETRY_S
            state.active = feed.active
            if state.failures == 0:
                state.last_error = ""  # the bus answers again; a failing deliver keeps its reason
            if not batch:
                state.delivered_seq = feed.position
                continue
            self._note_gap(sink, state, before, batch)
            if not await self._deliver(sink, state, batch, feed):
                continue
            await self._acknowledge(feed, batch)
            state.delivered_seq = feed.position
            state.delivered_events += len(batch)
            lag = self.bus.head() - state.delivered_seq
            if lag >= _LAG_WORTH_LOGGING and time.monotonic() - lag_logged > _LAG_LOG_EVERY_S:
                lag_logged = time.monotonic()
                log.warning("sink %r is %d events behind the head", sink.name, lag)

    async def _deliver(self, sink: EventSink, state: SinkState, batch: list[Event], feed: SinkFeed) -> bool:
        """Call `deliver` until it succeeds (the same batch, exponential backoff with jitter).

        False when the feed stopped being active between attempts (a `once` sink whose lease went
        to another instance): the batch is left to the new holder, which resumes from the durable
        position.
        """
        pause = _FIRST_RETRY_S
        while True:
            if not feed.active:
                log.warning(
                    "sink %r: this instance no longer holds its delivery; leaving titanseq %d-%d to the next",
                    sink.name, batch[0].titanseq, batch[-1].titanseq,
                )  # fmt: skip
                return False
            try:
                # asyncio.timeout, not wait_for: Python 3.11's wait_for drops a cancellation that
                # lands just as `deliver` returns, and `stop()` then waited for ever.
                async with asyncio.timeout(self.timeout_s):
                    await sink.deliver(batch)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if isinstance(exc, TimeoutError):
                    reason = f"deliver did not return within {self.timeout_s:g} s (setting sink_timeout_ms)"
                else:
                    reason = f"{type(exc).__name__}: {exc}"
                state.failures += 1
                state.failed_attempts += 1
                state.last_error = reason
                if state.failing_since is None:
                    state.failing_since = time.time()
                log.warning(
                    "sink %r failed to take %d events (titanseq %d-%d), attempt %d, %d behind the head: %s; "
                    "retrying in %.1f s",
                    sink.name, len(batch), batch[0].titanseq, batch[-1].titanseq, state.failures,
                    self.bus.head() - batch[0].titanseq + 1, reason, pause,
                )  # fmt: skip
                await _pause_before_retry(sink, pause * random.uniform(0.8, 1.2))
                pause = min(pause * 2, self.retry_max_s)
                continue
            if state.failing_since is not None:
                log.info("sink %r delivers again after %d failed attempts", sink.name, state.failures)
            state.failures, state.failing_since, state.last_error = 0, None, ""
            return True

    async def _acknowledge(self, feed: SinkFeed, batch: list[Event]) -> None:
        pause = _FIRST_RETRY_S
        while True:
            try:
                await feed.ack(batch)
                return
            except BusUnavailable:
                # Delivered but not acknowledged: retried acks keep the at-least-once promise small.
                await asyncio.sleep(pause)
                pause = min(pause * 2, self.retry_max_s)

    def _note_gap(self, sink: EventSink, state: SinkState, before: int, batch: list[Event]) -> None:
        """Count a batch that does not start right after the feed's position (compared with the
        feed's own position: a `once` sink's position moves on other instances too)."""
        first = batch[0].titanseq
        if before and first > before + 1:
            lost = first - before - 1
            state.lost_events += lost
            log.error(
                "sink %r lost %d events (titanseq %d to %d): no longer on the bus",
                sink.name,
                lost,
                before + 1,
                first - 1,
            )


async def _pause_before_retry(sink: EventSink, seconds: float) -> None:
    """Sleep before the next attempt, or less if the sink says it can deliver again.

    A sink may have an optional attribute `retry_now` (an `asyncio.Event`) that it sets when the
    cause of its failures is gone (the MQTT sink: the broker connection is back), so that events
    do not wait out a backoff of up to `sink_retry_max_ms` after an outage. It is cleared here,
    right after the failure, so only a change that comes later cuts the pause short.
    """
    ready = retry_signal(sink)
    if ready is None:
        await asyncio.sleep(seconds)
        return
    ready.clear()
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):  # not wait_for: see `_deliver`
            await ready.wait()


def check_sinks(sinks: Sequence[EventSink]) -> None:
    """Names must be unique and fanouts known: a sink's name keys its position on the bus."""
    seen: set[str] = set()
    for sink in sinks:
        name = getattr(sink, "name", None)
        if not isinstance(name, str) or not name or any(char in name for char in " |:"):
            raise ValueError(f"event sink {sink!r} needs a non-empty name without spaces, '|' or ':'")
        if name in seen:
            raise ValueError(f"two event sinks are named {name!r}; sink names must be unique")
        if getattr(sink, "fanout", None) not in ("each_instance", "once"):
            raise ValueError(
                f"event sink {name!r} has fanout {getattr(sink, 'fanout', None)!r}; "
                "use 'each_instance' or 'once'"
            )
        # The optional capabilities, checked now so a bad one is refused before any delivery.
        requested_batch_size(sink)
        retry_signal(sink)
        seen.add(name)

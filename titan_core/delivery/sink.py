"""The sink contract: what a transport plugin returns from `titan_event_sinks` to receive events."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol, runtime_checkable

# each_instance: every Titan instance delivers every event (a WebSocket fan-out needs this).
# once: one delivery per event per deployment, in order (an MQTT publisher or a webhook needs this).
Fanout = Literal["each_instance", "once"]


@dataclass(frozen=True)
class Event:
    """One published event: the CloudEvents envelope, and its JSON text serialised once.

    `envelope` is read-only by convention; `json` is what transports send, so an event fanned out
    to many clients is serialised a single time.
    """

    envelope: Mapping[str, Any]
    json: bytes

    @property
    def titanseq(self) -> int:
        return int(self.envelope["titanseq"])


@runtime_checkable
class EventSink(Protocol):
    """A destination of events. `deliver` raises to have the whole batch retried with backoff."""

    name: str
    fanout: Fanout

    async def deliver(self, events: Sequence[Event]) -> None: ...


# --- Optional capabilities: a sink that has these attributes tells the runner more ----------------


@runtime_checkable
class BatchingSink(EventSink, Protocol):
    """A sink that wants batches of its own size (the MQTT sink pipelines 1000 and waits once for all
    acknowledgements). `None` means the setting `sink_batch_size`."""

    batch_size: int | None


@runtime_checkable
class SignallingSink(EventSink, Protocol):
    """A sink that knows when it can deliver again (a connection is back) and sets `retry_now` then:
    the runner clears it after each failure and retries as soon as it is set, instead of finishing a
    backoff that grew during a long outage."""

    retry_now: asyncio.Event


def requested_batch_size(sink: EventSink) -> int | None:
    """The batch size `sink` asks for, or None for the runner's default; a bad value is refused."""
    if not isinstance(sink, BatchingSink) or sink.batch_size is None:
        return None
    size = sink.batch_size
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ValueError(
            f"event sink {sink.name!r} asks for batch_size {size!r}; use a whole number >= 1 or None"
        )
    return size


def retry_signal(sink: EventSink) -> asyncio.Event | None:
    """The `retry_now` event of a sink that has one; an attribute of another type is refused."""
    if not isinstance(sink, SignallingSink):
        return None
    if not isinstance(sink.retry_now, asyncio.Event):
        raise ValueError(
            f"event sink {sink.name!r} has retry_now of type {type(sink.retry_now).__name__}; "
            "it must be an asyncio.Event"
        )
    return sink.retry_now

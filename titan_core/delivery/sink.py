"""The sink contract: what a transport plugin returns from `titan_event_sinks` to receive events."""

from __future__ import annotations

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

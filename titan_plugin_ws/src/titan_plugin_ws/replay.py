"""A new subscription's history replay and its handover to live events, with no gap and no duplicate.

The subscription is attached (so live events are held for it) before history is read. The sink reads
the same bus as the replay's `EventReader`, so the held live events continue where history ends; the subscription's
cursor drops what both gave. The switch to live happens without awaiting, so nothing falls between.
"""

from __future__ import annotations

from typing import Protocol

from titan_core.plugin_api import BusUnavailable, Event, EventReader, HistoryExpired
from titan_plugin_ws import protocol
from titan_plugin_ws.outbox import Outbox
from titan_plugin_ws.subscription import Subscription

# Events read from the bus per step of a history replay.
REPLAY_CHUNK = 500


class ReplayTarget(Protocol):
    """The connection a replay sends through."""

    outbox: Outbox
    closing: bool

    def pass_event(self, subscription: Subscription, event: Event) -> None: ...

    async def prepare(self, subscription: Subscription, events: list[Event]) -> None: ...

    def drop_subscription(self, subscription: Subscription, code: str, message: str) -> None: ...


async def catch_up(
    target: ReplayTarget, events: EventReader, subscription: Subscription, chunk: list[Event]
) -> None:
    """Replay history after the cursor (`chunk` is its first read), then the held live events, then live.

    Waits for room in the client's queue instead of overflowing it. History that expires or a bus
    that cannot be read ends the subscription with an error message.
    """
    outbox = target.outbox
    try:
        while True:
            await target.prepare(subscription, chunk)
            for event in chunk:
                if not outbox.has_room():
                    await outbox.wait_for_room()
                if not subscription.active or target.closing:
                    return
                target.pass_event(subscription, event)
            # A full chunk: more history. Held events that overflowed: they no longer continue
            # where history ends, so read history again (the bus still has those events).
            caught_up = len(chunk) < REPLAY_CHUNK and not subscription.held_overflowed
            if caught_up and await _drain_held(target, subscription):
                return
            subscription.held_overflowed = False
            chunk = await events.read(subscription.cursor, REPLAY_CHUNK)
    except HistoryExpired as expired:
        target.drop_subscription(subscription, protocol.HISTORY_EXPIRED, "this client fell behind retention "
                                 f"during its replay; the oldest retained event is {expired.oldest}")  # fmt: skip
    except BusUnavailable as exc:
        target.drop_subscription(
            subscription, protocol.UNAVAILABLE, f"the event bus is not reachable now: {exc}"
        )


async def _drain_held(target: ReplayTarget, subscription: Subscription) -> bool:
    """Pass the held live events; True once live, False if they overflowed (read history again)."""
    outbox = target.outbox
    index = 0
    while True:
        held = subscription.held_live
        if held is None or subscription.held_overflowed:
            return held is None
        while index < len(held):
            if not outbox.has_room():
                await outbox.wait_for_room()
                if subscription.held_overflowed or not subscription.active:
                    break
            target.pass_event(subscription, held[index])
            index += 1
        else:
            # Reached the end of the held events without awaiting: from here on, `offer` sends.
            subscription.held_live = None
            return True

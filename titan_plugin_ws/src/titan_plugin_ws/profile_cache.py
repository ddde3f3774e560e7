"""The async-aas form of events for the subscriptions that asked for it (`"profile":"async-aas"`).

The envelope comes from `titan_core.delivery.profiles`, as on every transport. A valueChanged needs its
stored element (read from the outbox, one query per batch), which a synchronous send cannot await:
so the hub prepares each live batch, and a replay each history chunk, before the events are passed
on; every client then gets the same bytes, serialised once. Nothing runs while no subscription wants
the profile.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence

from titan_core.plugin_api import AsyncAasOptions, Event, StoredElements, async_aas_envelope, dump_json

# Prepared events kept: enough for a live batch and a replay chunk of every client at once.
CAPACITY = 20_000


class ProfileCache:
    def __init__(
        self, options: Callable[[], AsyncAasOptions], elements: Callable[[], StoredElements]
    ) -> None:
        self._options = options
        self._elements = elements
        self._prepared: OrderedDict[int, bytes] = OrderedDict()
        # Active subscriptions in the async-aas profile (the connections count them).
        self.subscribers = 0

    async def prepare(self, events: Sequence[Event]) -> None:
        """Build the async-aas JSON of `events` not yet prepared, reading their elements in one query."""
        if self.subscribers <= 0:
            return
        missing = [event for event in events if event.titanseq not in self._prepared]
        if not missing:
            return
        stored = await self._elements().of(missing)
        options = self._options()
        for event in missing:
            envelope = async_aas_envelope(event.envelope, options, element=stored.get(event.titanseq))
            self._prepared[event.titanseq] = dump_json(envelope)
        while len(self._prepared) > CAPACITY:
            self._prepared.popitem(last=False)

    def json(self, event: Event) -> bytes:
        """The prepared JSON; an event that was not prepared (evicted) is built without its element."""
        prepared = self._prepared.get(event.titanseq)
        if prepared is not None:
            return prepared
        return dump_json(async_aas_envelope(event.envelope, self._options()))

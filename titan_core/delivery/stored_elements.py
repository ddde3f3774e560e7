"""The whole element of each valueChanged, read back from the outbox for the profiles that send it.

A titan valueChanged carries only the value; the async-aas and BaSyx profiles need the element as
the change left it, which the outbox stores in the `element` column of the event's row
(titan_core/delivery/profiles.py). A transport reads the elements of a whole batch in one query, and
only when the batch holds a valueChanged and a profile wants full data.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select

from titan_core.delivery.sink import Event
from titan_core.eventtypes.envelope import EVENT_TYPE_PREFIX
from titan_core.store.database import Database
from titan_core.store.tables import event_outbox

_VALUE_CHANGED = EVENT_TYPE_PREFIX + "valueChanged"
# Bind parameters per query, well under every driver's limit.
_CHUNK = 500


class StoredElements:
    """Reads `element` by titanseq. A row past retention is simply missing from the answer."""

    def __init__(self, database: Database) -> None:
        self._database = database

    async def of(self, events: Sequence[Event]) -> dict[int, dict[str, Any]]:
        """titanseq -> element, for the valueChanged events among `events`."""
        seqs = [event.titanseq for event in events if event.envelope.get("type") == _VALUE_CHANGED]
        found: dict[int, dict[str, Any]] = {}
        if not seqs:
            return found
        async with self._database.read() as connection:
            for start in range(0, len(seqs), _CHUNK):
                rows = await connection.execute(
                    select(event_outbox.c.seq, event_outbox.c.element).where(
                        event_outbox.c.seq.in_(seqs[start : start + _CHUNK]),
                        event_outbox.c.element.is_not(None),
                    )
                )
                for seq, element in rows:
                    found[int(seq)] = json.loads(element)
        return found

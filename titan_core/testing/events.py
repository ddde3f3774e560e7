"""Events for tests: an envelope as the core publishes it, with its JSON text, from a few arguments."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from itertools import count
from typing import Any

from titan_core.delivery.sink import Event
from titan_core.eventtypes.envelope import EVENT_TYPE_PREFIX, event_source

DEFAULT_SUBMODEL = "https://example.com/ids/sm/4711"


def make_event(
    seq: int,
    *,
    kind: str = "valueChanged",
    entity: str = "element",
    identifier: str = DEFAULT_SUBMODEL,
    path: str | None = "Temperature",
    data: Any = 23.5,
    origin: str = "rest",
    event_id: str | None = None,
    time: str = "2026-11-27T05:25:48.123456Z",
) -> Event:
    """One published event (titan profile) with titanseq `seq`; a fresh `id` unless given.

    `kind` is the short type (`created`, `updated`, `deleted`, `valueChanged`); `path` counts only
    for `entity="element"`. The JSON is compact, as the core writes it.
    """
    element_path = path if entity == "element" else None
    envelope: dict[str, Any] = {
        "specversion": "1.0",
        "id": event_id or str(uuid.uuid4()),
        "type": EVENT_TYPE_PREFIX + kind,
        "source": event_source(entity, identifier, element_path),
        "time": time,
        "datacontenttype": "application/json",
        "titanseq": str(seq),
        "titanentity": entity,
        "titanid": identifier,
        "titanorigin": origin,
    }
    if element_path is not None:
        envelope["titanpath"] = element_path
    if data is not None:
        envelope["data"] = data
    return Event(envelope=envelope, json=json.dumps(envelope, separators=(",", ":")).encode())


class EventFactory:
    """Events with rising titanseqs, as one bus would publish them: `events.next(data=21.0)`."""

    def __init__(self, start: int = 1) -> None:
        self._seqs: Iterator[int] = count(start)

    def next(self, **fields: Any) -> Event:
        """The next event; `fields` are those of `make_event`."""
        return make_event(next(self._seqs), **fields)

    def batch(self, size: int, **fields: Any) -> list[Event]:
        """`size` events in a row, each with a value of its own (0.0, 1.0, ...) unless `data` is given."""
        return [self.next(**{"data": float(index), **fields}) for index in range(size)]

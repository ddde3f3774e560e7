"""The in-process event log: trimming frees dropped events a few at a time, never a pile at once."""

from __future__ import annotations

import json
import weakref

from titan_core.delivery.bus import EventLog
from titan_core.delivery.sink import Event

CAPACITY = 1_000
BATCH = 10


def _event(seq: int) -> Event:
    envelope = {"titanseq": str(seq), "type": "io.admin-shell.events.v1.valueChanged", "data": seq}
    return Event(envelope=envelope, json=json.dumps(envelope).encode())


class FreeWatch:
    """Weak references to every event appended, and a count of those freed so far."""

    def __init__(self) -> None:
        self.refs: list[weakref.ref[Event]] = []
        self.freed = 0

    def _on_free(self, _: weakref.ref[Event]) -> None:
        self.freed += 1

    def append(self, log: EventLog, first: int, count: int) -> list[int]:
        """Append events `first`.. in batches of BATCH; how many events each append freed."""
        freed_per_append = []
        for start in range(first, first + count, BATCH):
            batch = [_event(seq) for seq in range(start, start + BATCH)]
            self.refs.extend(weakref.ref(item, self._on_free) for item in batch)
            before = self.freed
            log.append(batch)
            del batch
            freed_per_append.append(self.freed - before)
        return freed_per_append


def test_each_append_frees_a_bounded_number_of_dropped_events() -> None:
    # Freeing an event costs about a microsecond; a compaction that freed thousands of them in one
    # append stalled the event loop for over 10 ms (bench/mqtt_bench.py rest).
    log = EventLog(capacity=CAPACITY, backlog_limit=CAPACITY)
    watch = FreeWatch()
    freed = watch.append(log, 1, 20 * CAPACITY)
    assert max(freed) <= 2 * BATCH + 32, f"one append freed {max(freed)} events"
    assert sum(freed) > 10 * CAPACITY  # dropped events do get freed
    assert len(log) == CAPACITY
    last = 20 * CAPACITY
    assert [item.titanseq for item in log.read(last - 3, 10)] == [last - 2, last - 1, last]


def test_dropped_events_are_all_freed_as_appends_go_on() -> None:
    log = EventLog(capacity=CAPACITY, backlog_limit=CAPACITY)
    watch = FreeWatch()
    watch.append(log, 1, 20 * CAPACITY)
    # What is alive is the retained window plus at most one compaction's worth of dropped events
    # waiting to be freed, not everything ever dropped.
    assert 20 * CAPACITY - watch.freed <= 2 * CAPACITY + 4096 + BATCH
    assert all(ref() is not None for ref in watch.refs[-CAPACITY:])  # the window itself is kept
    watch.append(log, 20 * CAPACITY + 1, 10 * CAPACITY)
    assert all(ref() is None for ref in watch.refs[: 20 * CAPACITY])

"""The feed of a `once` sink in a deployment of several instances: durable, fenced, ordered.

Where the sink stands is the `event_sinks` row in the database (`SinkLease`), never Redis state, so
losing Redis (its consumer groups, its keys, its stream) changes nothing about where delivery
resumes. The holder reads the events after its position from this instance's `EventLog` (the tail
of the bus) and, when that does not reach back far enough, from the outbox, which keeps every event
after the slowest `once` sink's position (up to `event_backlog_limit`; see `Relay.maintain`).

Positions are stored by a task of the feed while the next batches go out (never before the sink's
`deliver` returned), at most every `STORE_EVERY_S`, so a store is not on the path from commit to
sink and costs the database the same at one event per batch as at a hundred. Delivery waits once
what was delivered has gone unstored for `UNSTORED_MAX_S`: a holder that dies repeats at most
about that much, and one whose database stalls stops after that long.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from titan_core.delivery.bus import BusUnavailable, EventBus, HistoryExpired, event_from_json
from titan_core.delivery.sink import Event
from titan_core.delivery.sink_lease import SinkLease
from titan_core.eventtypes.envelope import with_titanseq
from titan_core.store.database import Database
from titan_core.store.tables import event_outbox
from titan_core.tasks import cancel_and_wait

log = logging.getLogger(__name__)

_OUTBOX_POLL_S = 0.1
_STORE_RETRY_FIRST_S = 0.1
# Stores of a busy sink at most this often: positions delivered meanwhile are stored together.
STORE_EVERY_S = 0.05
# Deliveries unstored for longer than this hold up the next batch until a store got through.
UNSTORED_MAX_S = 0.5


class DurableOnceFeed:
    """The `SinkFeed` of one `once` sink on this instance; active while it holds the sink's lease."""

    def __init__(
        self,
        bus: EventBus,
        database: Database,
        name: str,
        *,
        instance_id: str,
        lease_ms: int,
        batch_timeout_ms: int,
    ) -> None:
        self.name = name
        # The last titanseq delivered (the sink's `deliver` returned for it); the next batch follows it.
        self.position = 0
        # The last position this instance stored in the row (the durable one, as far as it knows).
        self._stored = 0
        # Since when (monotonic) deliveries after `_stored` wait to be stored; None: none wait.
        self._unstored_since: float | None = None
        self._bus = bus
        self._database = database
        self.lease = SinkLease(
            database, name, holder=instance_id, lease_ms=lease_ms, batch_timeout_ms=batch_timeout_ms
        )
        self._retry_every_s = lease_ms / 3000
        self._next_attempt = 0.0
        self._writer: asyncio.Task[None] | None = None
        self._moved = asyncio.Event()  # the position moved: the writer stores it
        self._written = asyncio.Event()  # a store ended (stored, or the lease found lost)
        self._registered = False

    @property
    def active(self) -> bool:
        return self.lease.held

    async def owner(self) -> str | None:
        """The instance delivering this sink now, whichever it is (`/ready`, `/metrics`)."""
        return await self.lease.current_holder()

    async def prepare(self) -> None:
        """Register the sink (a new one starts at the newest assigned titanseq); try to hold it."""
        with contextlib.suppress(BusUnavailable):  # the database away: next_batch tries again
            await self._try_to_take_over()

    async def next_batch(self, limit: int, timeout: float) -> list[Event]:
        if not self.lease.held:
            if self.lease.token is not None:
                # Not renewed for a whole lease (the database away): stop before the next batch.
                log.warning("sink %r: this instance could not renew its delivery lease; it stops", self.name)
                self.lease.token = None
            if not await self._try_to_take_over():
                await asyncio.sleep(max(0.0, min(timeout, self._next_attempt - time.monotonic())))
                return []
        events = await self._read(limit)
        if not events:
            if self._bus.log.covers(self.position):
                await self._bus.wait(self.position, timeout)
            else:  # the outbox has nothing newer yet: it is read again shortly
                await asyncio.sleep(min(timeout, _OUTBOX_POLL_S))
            events = await self._read(limit)
        # The lease may have run out while waiting: a batch starts only under a valid lease.
        return events if self.lease.held else []

    async def ack(self, events: Sequence[Event]) -> None:
        """The batch was delivered: the writer stores its position while the next batches go out.

        Returns at once, unless deliveries have waited to be stored for over `UNSTORED_MAX_S`
        (the database is slow or away): then once a store got through, or the lease ran out.
        """
        if not events or self.lease.token is None:
            return
        self.position = max(self.position, events[-1].titanseq)
        if self._unstored_since is None:
            self._unstored_since = time.monotonic()
        self._moved.set()
        while self._unstored_too_long() and self.lease.held:
            self._written.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.lease.expires_in()):
                    await self._written.wait()

    def _unstored_too_long(self) -> bool:
        since = self._unstored_since
        return since is not None and time.monotonic() - since > UNSTORED_MAX_S

    async def skip_to(self, seq: int) -> None:
        """Continue after `seq`: the events up to it are lost to this sink (counted in its row too)."""
        if seq > self.position and await self.lease.save(seq, lost=seq - self.position):
            self.position = seq
            self._note_stored(seq, since=time.monotonic())

    async def close(self) -> None:
        """Store the last delivered position and hand the lease back (the next holder starts at once)."""
        if self._writer is not None:
            await cancel_and_wait(self._writer)
        with contextlib.suppress(BusUnavailable, SQLAlchemyError, OSError):
            await self.lease.release(self.position)

    # ------------------------------------------------------------------ internals

    async def _try_to_take_over(self) -> bool:
        now = time.monotonic()
        if now < self._next_attempt:
            return False
        self._next_attempt = now + self._retry_every_s
        if not self._registered:
            await self.lease.register()
            self._registered = True
        ownership = await self.lease.take_over()
        if ownership is None:
            return False
        self.position = self._stored = ownership.position
        self._unstored_since = None
        log.info(
            "sink %r is delivered by this instance (%s) from titanseq %d (fencing token %d)",
            self.name,
            self.lease.holder,
            self.position,
            ownership.token,
        )
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._keep_row_current(), name=f"titan-sink-row-{self.name}")
        return True

    async def _keep_row_current(self) -> None:
        """Store the delivered position when it moves, at most every `STORE_EVERY_S` (each store
        renews the lease), and renew every third of the lease while idle or while a batch is
        retried. One store at a time, in order; what was delivered meanwhile goes with the next."""
        pause = _STORE_RETRY_FIRST_S
        next_store = 0.0
        while self.lease.token is not None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._retry_every_s):
                    await self._moved.wait()
            await asyncio.sleep(max(0.0, next_store - time.monotonic()))
            self._moved.clear()
            wanted, began = self.position, time.monotonic()
            next_store = began + STORE_EVERY_S
            try:
                kept = await self.lease.save(wanted)
            except BusUnavailable as exc:
                log.debug("sink %r: storing position %d failed (%s); retrying", self.name, wanted, exc)
                self._moved.set()  # try again after the pause
                await asyncio.sleep(pause)
                pause = min(pause * 2, self._retry_every_s)
                continue
            pause = _STORE_RETRY_FIRST_S
            if kept:
                self._note_stored(wanted, since=began)
            self._written.set()  # also when the lease was lost: `ack` stops waiting

    def _note_stored(self, seq: int, *, since: float) -> None:
        """`seq` is stored; what was delivered after it (all after `since`) still waits."""
        self._stored = max(self._stored, seq)
        if self._stored >= self.position:
            self._unstored_since = None
        elif self._unstored_since is not None:
            self._unstored_since = max(self._unstored_since, since)

    async def _read(self, limit: int) -> list[Event]:
        """The next events after the position: from this instance's log, else from the outbox."""
        log_of_bus = self._bus.log
        if log_of_bus.covers(self.position):
            return log_of_bus.read(self.position, limit)
        return await self._read_outbox(limit)

    async def _read_outbox(self, limit: int) -> list[Event]:
        try:
            async with self._database.read() as connection:
                rows = (
                    await connection.execute(
                        select(event_outbox.c.seq, event_outbox.c.envelope)
                        .where(event_outbox.c.seq > self.position)
                        .order_by(event_outbox.c.seq)
                        .limit(limit)
                    )
                ).all()
        except (SQLAlchemyError, OSError) as exc:
            raise BusUnavailable(f"cannot read the outbox for sink {self.name!r}: {exc}") from exc
        if rows and int(rows[0].seq) > self.position + 1:
            # Trimmed before this sink got them (beyond event_backlog_limit): they are gone for good.
            raise HistoryExpired(self.position, int(rows[0].seq))
        return [event_from_json(with_titanseq(row.envelope, int(row.seq))) for row in rows]

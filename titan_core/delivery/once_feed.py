"""The feed of a `once` sink in a deployment of several instances: durable, fenced, ordered.

Where the sink stands is the `event_sinks` row in the database (`SinkLease`), never Redis state, so
losing Redis (its consumer groups, its keys, its stream) changes nothing about where delivery
resumes. The holder reads the events after its position from this instance's `EventLog` (the tail
of the bus) and, when that does not reach back far enough, from the outbox, which keeps every event
after the slowest `once` sink's position (up to `event_backlog_limit`; see `Relay.maintain`).

The position of a delivered batch is stored while the next batch goes out (one task per feed keeps
the row current), never before the sink's `deliver` returned, and at most one batch ahead: a
holder that dies repeats at most its last two batches, and a database that stalls stops delivery
after one more batch, as the lease does when it cannot be renewed.
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

log = logging.getLogger(__name__)

_OUTBOX_POLL_S = 0.1
_STORE_RETRY_FIRST_S = 0.1


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
        """The batch was delivered: the writer stores its position while the next one goes out.

        Returns once the previous batch's position is stored (usually long done), so the stored
        position is never more than one batch behind; or once the lease ran out meanwhile.
        """
        if not events or self.lease.token is None:
            return
        previous = self.position
        self.position = max(self.position, events[-1].titanseq)
        self._moved.set()
        while self._stored < previous and self.lease.held:
            self._written.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.lease.expires_in()):
                    await self._written.wait()

    async def skip_to(self, seq: int) -> None:
        """Continue after `seq`: the events up to it are lost to this sink (counted in its row too)."""
        if seq > self.position and await self.lease.save(seq, lost=seq - self.position):
            self.position = seq
            self._stored = max(self._stored, seq)

    async def close(self) -> None:
        """Store the last delivered position and hand the lease back (the next holder starts at once)."""
        if self._writer is not None:
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._writer
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
        """Store the delivered position as soon as it moves (each store renews the lease), and renew
        every third of the lease while idle or while a batch is retried. One store at a time, in
        order; positions delivered meanwhile are stored together by the next one."""
        pause = _STORE_RETRY_FIRST_S
        while self.lease.token is not None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._retry_every_s):
                    await self._moved.wait()
            self._moved.clear()
            wanted = self.position
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
                self._stored = max(self._stored, wanted)
            self._written.set()  # also when the lease was lost: `ack` stops waiting

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

"""The relay: publishes committed outbox rows onto the bus, assigning each its `titanseq`.

Rows get their titanseq in insert-id order, in a transaction fenced by the relay lease, and are then
published in titanseq order. Never `id > last_id`: transactions commit out of id order, so the relay
looks for rows *without* a titanseq instead. Publishing is idempotent by titanseq, so a relay that
died after publishing, or a bus that lost its data, is repaired by publishing again what the bus lacks.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from typing import Any

from sqlalchemy import BigInteger, Connection, Update, bindparam, case, delete, func, or_, select, update
from sqlalchemy.exc import SQLAlchemyError

from titan_core.delivery.bus import BusUnavailable, EventBus, OutgoingEvent
from titan_core.eventtypes.envelope import with_titanseq
from titan_core.store.database import Database
from titan_core.store.tables import event_outbox, event_relay, event_semantic_keys, event_sinks
from titan_core.tasks import finish_or_cancel

log = logging.getLogger(__name__)

_LEASE = "relay"
_MAINTAIN_EVERY_S = 5.0
_DELETE_CHUNK = 5000
_STOP_GRACE_S = 5.0
_ROUND_EVERY_S = 0.002
# Rows a round assigns inline on the event loop (SQLite); a fuller backlog goes through a thread.
_INLINE_ROWS = 64
# A `once` sink no instance has held for this long (a plugin removed for good) no longer holds
# events back from trimming; while it comes back within it, nothing it needs is deleted.
_FORGET_SINK_AFTER_MS = 7 * 24 * 3600 * 1000


class Relay:
    """One per process; at most one relay in a deployment holds the lease and publishes."""

    def __init__(
        self,
        database: Database,
        bus: EventBus,
        *,
        wake: asyncio.Event,
        instance_id: str,
        batch_size: int = 500,
        poll_ms: int = 250,
        lease_ms: int = 10_000,
        retention: int = 10_000,
        backlog_limit: int = 1_000_000,
    ) -> None:
        self.database = database
        self.bus = bus
        self.wake = wake
        self.instance_id = instance_id
        self.batch_size = batch_size
        self.poll_s = poll_ms / 1000
        self.lease_ms = lease_ms
        self.retention = retention
        self.backlog_limit = max(backlog_limit, retention)
        self.leader = False
        self.last_error = ""
        self.published_events = 0  # since start, by this instance, for /metrics
        self._warned = False  # the current error was logged here (not by the database's watch)
        self._bus_head: int | None = None
        self._last_assigned = 0
        self._more_waiting = False  # the last round was full
        self._renew_due = 0.0
        self._valid_until = 0.0  # monotonic time until which the lease surely is ours
        self._next_acquire = 0.0
        # Not in the first round: that one publishes what waited, as soon as it can.
        self._maintain_due = time.monotonic() + _MAINTAIN_EVERY_S
        self._task: asyncio.Task[None] | None = None
        self._trimming: asyncio.Task[None] | None = None
        self._stopping = False

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="titan-relay")

    async def stop(self) -> None:
        if self._task is not None:
            # Let a round in progress finish: a transaction cut off by cancellation can leave the
            # connection unusable for the release below (and SQLite has only one writer connection).
            self._stopping = True
            self.wake.set()
            await finish_or_cancel(self._task, _STOP_GRACE_S)
            self._task = None
        if self._trimming is not None:
            await finish_or_cancel(self._trimming, _STOP_GRACE_S)
            self._trimming = None
        if self.leader:
            with contextlib.suppress(SQLAlchemyError, OSError):
                await self._release()

    def status(self) -> dict[str, Any]:
        return {
            "leader": self.leader,
            "published": str(self._bus_head) if self._bus_head is not None else None,
            "assigned": str(self._last_assigned),
            "error": self.last_error,
        }

    # ------------------------------------------------------------------ the loop

    async def _loop(self) -> None:
        pause = 0.05
        woken = True
        started = 0.0
        while not self._stopping:
            # Commits streaming in faster than one per _ROUND_EVERY_S share a round: a round is a
            # transaction of its own, as costly as a device's value write.
            wait = started + _ROUND_EVERY_S - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            started = time.monotonic()
            self.wake.clear()
            try:
                published = await self.run_once(woken=woken)
                if self.last_error and self._warned:
                    log.info("event relay works again")
                self.last_error, pause = "", 0.05
                if (published and self._more_waiting) or self._stopping:
                    continue  # the round was full: more rows are likely waiting
                try:
                    await asyncio.wait_for(self.wake.wait(), self.poll_s)
                    woken = True
                except TimeoutError:
                    woken = False  # the fallback poll, for rows other processes wrote
            except asyncio.CancelledError:
                raise
            except (BusUnavailable, SQLAlchemyError, OSError) as exc:
                # A database outage is logged once, by the database's watch, not here as well.
                if not self.last_error:
                    self._warned = not self.database.outage.report(exc)
                    if self._warned:
                        log.warning("event relay cannot publish now (%s); the events wait in the outbox", exc)
                self.last_error = str(exc)
                self._bus_head = None
                woken = True
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopped_waiting(), pause)
                pause = min(pause * 2, 0.5)  # publishing resumes within a second of recovery

    async def _stopped_waiting(self) -> None:
        while not self._stopping:
            await self.wake.wait()
            self.wake.clear()

    async def run_once(self, *, woken: bool = True) -> int:
        """One round: take or keep the lease, publish what the bus lacks; returns how many were new."""
        now = time.monotonic()
        if self.leader and now >= self._valid_until:
            # Not renewed for a whole lease (the database away): another relay may hold it by now.
            log.warning("this instance's relay lease ran out before it could renew it; it stops publishing")
            self.leader = False
        if not self.leader:
            if now < self._next_acquire:
                return 0
            self._next_acquire = now + self.lease_ms / 3000
            if not await self._acquire():
                return 0
        elif now >= self._renew_due and not await self._renew():
            return 0
        if self._bus_head is None:
            self._bus_head = await self.bus.published_head()
        await self._publish_backlog()
        if not woken and now < self._renew_due and not await self._has_unassigned():
            return 0
        assigned = await self._assign()
        if assigned:
            await self.bus.publish(assigned)
            self._bus_head = assigned[-1].seq
            self.published_events += len(assigned)
        if now >= self._maintain_due and (self._trimming is None or self._trimming.done()):
            self._maintain_due = now + _MAINTAIN_EVERY_S
            # Beside the rounds, not in one: its round trips (and deleting thousands of rows, once
            # retention is reached) would hold up the events committed meanwhile.
            self._trimming = asyncio.create_task(self._maintain_beside(), name="titan-relay-trim")
        return len(assigned)

    async def _maintain_beside(self) -> None:
        try:
            await self.maintain()
        except (BusUnavailable, SQLAlchemyError, OSError) as exc:
            # The rounds meet the same outage and report it; trimming waits for the next time.
            log.debug("event trimming failed (%s); it is tried again in %g s", exc, _MAINTAIN_EVERY_S)

    # ------------------------------------------------------------------ steps

    async def _acquire(self) -> bool:
        sent = time.monotonic()
        now = _now_ms()
        async with self.database.write() as connection:
            result = await connection.execute(
                update(event_relay)
                .where(
                    event_relay.c.name == _LEASE,
                    or_(
                        event_relay.c.holder.is_(None),
                        event_relay.c.holder == self.instance_id,
                        event_relay.c.expires_at < now,
                    ),
                )
                .values(holder=self.instance_id, expires_at=now + self.lease_ms)
                .returning(event_relay.c.last_seq)
            )
            row = result.first()
        if row is None:
            return False
        self.leader = True
        self._valid_until = sent + self.lease_ms / 1000
        self._last_assigned = int(row.last_seq)
        self._bus_head = None
        self._renew_due = time.monotonic() + self.lease_ms / 3000
        log.info(
            "this instance (%s) now relays events, from titanseq %d", self.instance_id, self._last_assigned
        )
        return True

    async def _renew(self) -> bool:
        """Extend the lease (also while the bus is away: nobody else could publish either)."""
        sent = time.monotonic()
        async with self.database.write() as connection:
            result = await connection.execute(
                update(event_relay)
                .where(event_relay.c.name == _LEASE, event_relay.c.holder == self.instance_id)
                .values(expires_at=_now_ms() + self.lease_ms)
                .returning(event_relay.c.name)
            )
            held = result.first() is not None
        if not held:
            self.leader = False
            log.warning("this instance lost the relay lease to another one")
            return False
        self._valid_until = sent + self.lease_ms / 1000
        self._renew_due = time.monotonic() + self.lease_ms / 3000
        return True

    async def _release(self) -> None:
        async with self.database.write() as connection:
            await connection.execute(
                update(event_relay)
                .where(event_relay.c.name == _LEASE, event_relay.c.holder == self.instance_id)
                .values(holder=None, expires_at=0, published_seq=self._published_value())
            )
        self.leader = False

    async def _has_unassigned(self) -> bool:
        async with self.database.read() as connection:
            found = await connection.execute(
                select(event_outbox.c.id).where(event_outbox.c.seq.is_(None)).limit(1)
            )
            return found.first() is not None

    async def _assign(self) -> list[OutgoingEvent]:
        """Renew the lease and give the next unassigned rows (insert-id order) their titanseq."""
        sent = time.monotonic()
        now = _now_ms()
        # On the relay's path from commit to sink, a round runs inline (no thread round trips), but
        # for few rows only: a backlog (a bulk load's events carry whole submodels) is taken in full
        # batches through the worker thread, so the event loop keeps serving requests.
        inline = self.database.inline_writes and not self._more_waiting
        limit = min(_INLINE_ROWS, self.batch_size) if inline else self.batch_size
        assigned = await self.database.run_write(
            lambda connection: self._assign_in(connection, now, limit), inline=inline
        )
        self._more_waiting = assigned is not None and len(assigned) >= limit
        if assigned is None:
            self.leader = False
            log.warning("this instance lost the relay lease to another one")
            return []
        self._renew_due = time.monotonic() + self.lease_ms / 3000
        self._valid_until = sent + self.lease_ms / 1000
        if assigned:
            self._last_assigned = assigned[-1].seq
        return assigned

    def _assign_in(self, connection: Connection, now: int, limit: int) -> list[OutgoingEvent] | None:
        """The statements of `_assign` in one transaction; None when the lease is no longer ours."""
        renew, number, advance, keys = self._assign_statements(limit)
        lease = connection.execute(
            renew,
            {"me": self.instance_id, "new_expires_at": now + self.lease_ms, "published": self._bus_head or 0},
        ).first()
        if lease is None:
            return None
        last = int(lease.last_seq)
        rows = sorted(connection.execute(number, {"last": last}).all(), key=lambda row: int(row.seq))
        if rows:
            connection.execute(advance, {"new_last_seq": last + len(rows)})
            connection.execute(keys, {"last": last, "new_last_seq": last + len(rows)})
        return [OutgoingEvent(int(row.seq), with_titanseq(row.envelope, int(row.seq))) for row in rows]

    @functools.cache  # noqa: B019 - two limits per relay, and the relay lives as long as the app
    def _assign_statements(self, limit: int) -> tuple[Update, Update, Update, Update]:
        """Built once: building and keying a statement costs more than SQLite takes to run it."""
        published = bindparam("published", type_=BigInteger)
        stored = event_relay.c.published_seq
        renew = (
            update(event_relay)
            .where(event_relay.c.name == _LEASE, event_relay.c.holder == bindparam("me"))
            .values(
                expires_at=bindparam("new_expires_at", type_=BigInteger),
                published_seq=case((stored < published, published), else_=stored),
            )
            .returning(event_relay.c.last_seq)
        )
        batch = (
            select(event_outbox.c.id)
            .where(event_outbox.c.seq.is_(None))
            .order_by(event_outbox.c.id)
            .limit(limit)
            .subquery()
        )
        numbered = select(
            batch.c.id, func.row_number().over(order_by=batch.c.id).label("position")
        ).subquery()
        # One statement numbers the batch in insert-id order (UPDATE … FROM, on both databases).
        number = (
            update(event_outbox)
            .where(event_outbox.c.id == numbered.c.id)
            .values(seq=bindparam("last", type_=BigInteger) + numbered.c.position)
            .returning(event_outbox.c.seq, event_outbox.c.envelope)
        )
        advance = (
            update(event_relay)
            .where(event_relay.c.name == _LEASE)
            .values(last_seq=bindparam("new_last_seq", type_=BigInteger))
        )
        # The Event Feed's semanticId filter reads seq from the key rows (migration 0007): the rows
        # just numbered get theirs in the same transaction, found through the outbox's seq index.
        keys = (
            update(event_semantic_keys)
            .where(
                event_semantic_keys.c.outbox_id == event_outbox.c.id,
                event_outbox.c.seq > bindparam("last", type_=BigInteger),
                event_outbox.c.seq <= bindparam("new_last_seq", type_=BigInteger),
            )
            .values(seq=event_outbox.c.seq)
        )
        return renew, number, advance, keys

    async def _publish_backlog(self) -> None:
        """Publish rows that have a titanseq but are not on the bus (a crash, a bus that lost data)."""
        while self._bus_head is not None and self._bus_head < self._last_assigned:
            async with self.database.read() as connection:
                rows = (
                    await connection.execute(
                        select(event_outbox.c.seq, event_outbox.c.envelope)
                        .where(event_outbox.c.seq > self._bus_head, event_outbox.c.seq <= self._last_assigned)
                        .order_by(event_outbox.c.seq)
                        .limit(self.batch_size)
                    )
                ).all()
            if not rows:
                return
            if int(rows[0].seq) > self._bus_head + 1:
                # A bus that lost its data (Redis restarted empty) gets the history the outbox still
                # has; `once` sinks resume from their durable positions, which trimming respects.
                log.info(
                    "the bus's history starts again at titanseq %d (older events are no longer retained)",
                    int(rows[0].seq),
                )
            log.info(
                "publishing %d events again that the bus does not have (from titanseq %d)",
                len(rows),
                int(rows[0].seq),
            )
            await self.bus.publish([OutgoingEvent(int(row.seq), with_titanseq(row.envelope, int(row.seq)))
                                    for row in rows])  # fmt: skip
            self._bus_head = int(rows[-1].seq)

    async def maintain(self) -> None:
        """Trim the bus and the outbox: keep the newest `retention` events and every event after the
        slowest `once` sink's durable position, up to `backlog_limit` events behind the head."""
        head = self._bus_head or 0
        positions = await self._once_positions()
        await self.bus.maintain({name: seq + 1 for name, seq in positions.items()})
        cut = min([head - self.retention, *positions.values()])
        hard_cut = head - self.backlog_limit
        if cut < hard_cut:
            # The sinks behind learn it when they read on (once_feed.py), and count it then, once.
            behind = sorted(name for name, seq in positions.items() if seq < hard_cut)
            log.warning(
                "event backlog over its limit (%d events, setting event_backlog_limit): deleting events "
                "up to titanseq %d that sinks %s have not delivered yet",
                self.backlog_limit, hard_cut, ", ".join(behind),
            )  # fmt: skip
            cut = hard_cut
        while cut > 0:
            async with self.database.write() as connection:
                chosen = (
                    select(event_outbox.c.id)
                    .where(event_outbox.c.seq <= cut)
                    .order_by(event_outbox.c.seq)
                    .limit(_DELETE_CHUNK)
                    .scalar_subquery()
                )
                result = await connection.execute(delete(event_outbox).where(event_outbox.c.id.in_(chosen)))
            if (result.rowcount or 0) < _DELETE_CHUNK:
                return

    async def _once_positions(self) -> dict[str, int]:
        """The durable position of every `once` sink some instance delivered lately."""
        since = _now_ms() - _FORGET_SINK_AFTER_MS
        async with self.database.read() as connection:
            rows = await connection.execute(
                select(event_sinks.c.name, event_sinks.c.position).where(event_sinks.c.renewed_at >= since)
            )
            return {row.name: int(row.position) for row in rows}

    def _published_value(self) -> Any:
        published = self._bus_head or 0
        return case((event_relay.c.published_seq < published, published), else_=event_relay.c.published_seq)


def _now_ms() -> int:
    return time.time_ns() // 1_000_000

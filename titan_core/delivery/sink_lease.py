"""The durable position and the fenced delivery lease of one `once` sink, in the `event_sinks` table.

The database, not Redis, decides which instance delivers a `once` sink and where it resumes: Redis
may restart empty at any moment. Each change of holder increases the fencing token; every write of
the holder (position, renewal) names its token, so an instance that lost the lease can no longer
move the position. A holder that cannot renew stops on its own once `lease_ms` have passed since
its last renewal; another instance takes over only `lease_ms + batch_timeout_ms` after that
renewal, so a batch still in flight at the old holder has ended (docs/architecture.md).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Executable, Row, case, insert, or_, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from titan_core.delivery.bus import BusUnavailable
from titan_core.store.database import Database
from titan_core.store.tables import event_relay, event_sinks

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Ownership:
    """What taking the lease gave: the fencing token and the durable position to resume after."""

    token: int
    position: int


class SinkLease:
    """One instance's view of one `once` sink's row: register, take over, save (= renew), release."""

    def __init__(
        self, database: Database, name: str, *, holder: str, lease_ms: int, batch_timeout_ms: int
    ) -> None:
        self.database = database
        self.name = name
        self.holder = holder
        self.lease_ms = lease_ms
        # Since the last renewal of a holder that stopped renewing, how long before another takes over.
        self.takeover_after_ms = lease_ms + batch_timeout_ms
        self.token: int | None = None
        self._valid_until = 0.0

    @property
    def held(self) -> bool:
        """Whether this instance may start a batch now: its lease is less than `lease_ms` old."""
        return self.token is not None and time.monotonic() < self._valid_until

    def expires_in(self) -> float:
        """Seconds until `held` turns false unless the lease is renewed (0 when it is not held)."""
        return max(0.0, self._valid_until - time.monotonic()) if self.token is not None else 0.0

    async def register(self) -> None:
        """Create the sink's row if it is new: it starts after the last titanseq assigned so far."""
        try:
            async with self.database.write() as connection:
                exists = await connection.execute(
                    select(event_sinks.c.name).where(event_sinks.c.name == self.name)
                )
                if exists.first() is not None:
                    return
                head = (
                    await connection.execute(
                        select(event_relay.c.last_seq).where(event_relay.c.name == "relay")
                    )
                ).scalar_one_or_none() or 0
                await connection.execute(
                    insert(event_sinks).values(
                        name=self.name,
                        holder=None,
                        token=0,
                        renewed_at=_now_ms(),
                        position=int(head),
                        lost_events=0,
                    )
                )
        except IntegrityError:
            return  # another instance registered it at the same moment
        except (SQLAlchemyError, OSError) as exc:
            raise BusUnavailable(f"cannot register sink {self.name!r} in the database: {exc}") from exc

    async def take_over(self) -> Ownership | None:
        """Become the holder if the lease is free, ours, or expired (plus the batch timeout)."""
        sent = time.monotonic()
        now = _now_ms()
        statement = (
            update(event_sinks)
            .where(
                event_sinks.c.name == self.name,
                or_(
                    event_sinks.c.holder.is_(None),
                    event_sinks.c.holder == self.holder,
                    event_sinks.c.renewed_at < now - self.takeover_after_ms,
                ),
            )
            .values(holder=self.holder, token=event_sinks.c.token + 1, renewed_at=now)
            .returning(event_sinks.c.token, event_sinks.c.position)
        )
        row = await self._write(statement, f"cannot take the lease of sink {self.name!r}")
        if row is None:
            return None
        self.token = int(row.token)
        self._valid_until = sent + self.lease_ms / 1000
        return Ownership(token=self.token, position=int(row.position))

    async def save(self, position: int, *, lost: int = 0) -> bool:
        """Store `position` (never moving it back) and renew; False when the lease is no longer ours.

        `lost` adds to the row's count of events this sink will never get.
        """
        token = self.token
        if token is None:
            return False
        sent = time.monotonic()
        statement = (
            update(event_sinks)
            .where(
                event_sinks.c.name == self.name,
                event_sinks.c.holder == self.holder,
                event_sinks.c.token == token,
            )
            .values(
                position=case((event_sinks.c.position < position, position), else_=event_sinks.c.position),
                renewed_at=_now_ms(),
                lost_events=event_sinks.c.lost_events + lost,
            )
            .returning(event_sinks.c.token)
        )
        row = await self._write(statement, f"cannot store the position of sink {self.name!r}")
        if row is None:
            if self.token == token:  # not a lease taken again while this store was on its way
                log.warning(
                    "sink %r: another instance holds its delivery lease now; this one stops", self.name
                )
                self.token = None
            return False
        if self.token == token:
            self._valid_until = max(self._valid_until, sent + self.lease_ms / 1000)
        return True

    async def _write(self, statement: Executable, failure: str) -> Row[Any] | None:
        """The first row `statement` returns, in a write transaction of its own; a database that
        cannot be reached is `BusUnavailable` (`failure` says what could not be done)."""
        try:
            async with self.database.write() as connection:
                return (await connection.execute(statement)).first()
        except (SQLAlchemyError, OSError) as exc:
            raise BusUnavailable(f"{failure}: {exc}") from exc

    async def current_holder(self) -> str | None:
        """The instance that holds the lease now (renewed within `lease_ms`), or None: vacant.

        Read by `/ready` and `/metrics` on any instance, so it asks the row, not this object.
        """
        async with self.database.read() as connection:
            row = (
                await connection.execute(
                    select(event_sinks.c.holder, event_sinks.c.renewed_at).where(
                        event_sinks.c.name == self.name
                    )
                )
            ).first()
        if row is None or row.holder is None or row.renewed_at < _now_ms() - self.lease_ms:
            return None
        return str(row.holder)

    async def release(self, position: int = 0) -> None:
        """Give the lease up at once (a clean shutdown), storing the last delivered `position` with
        it (never moving the stored one back): the next holder need not wait, nor repeat anything."""
        if self.token is None:
            return
        async with self.database.write() as connection:
            await connection.execute(
                update(event_sinks)
                .where(
                    event_sinks.c.name == self.name,
                    event_sinks.c.holder == self.holder,
                    event_sinks.c.token == self.token,
                )
                .values(
                    holder=None,
                    position=case(
                        (event_sinks.c.position < position, position), else_=event_sinks.c.position
                    ),
                )
            )
        self.token = None


def _now_ms() -> int:
    return time.time_ns() // 1_000_000

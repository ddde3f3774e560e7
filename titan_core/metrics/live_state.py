"""The delivery state only the database (and the bus) know, read when asked: by `GET /ready` and by
each scrape of `GET /metrics`, never on the request path.

Who holds the relay lease and whether it is kept renewed, how many committed events wait in the
outbox and for how long, and which instance delivers each `once` sink. A dead relay holder shows
as overdue within a second of its missed renewal, and as a growing wait of the outbox at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from sqlalchemy import func, select

from titan_core.keys import DATABASE, EVENT_PIPELINE, SETTINGS
from titan_core.store.tables import event_outbox, event_relay

# Reads give up after this long: a scrape or a probe must answer even when the database does not.
READ_TIMEOUT_S = 1.0
# Counting stops here: the exact depth of a backlog this large does not matter, its cost would.
PENDING_COUNT_CAP = 100_000
# An event waiting longer than this for the relay means nobody is publishing.
STALLED_AFTER_S = 1.0


@dataclass
class RelayLease:
    """The row that says which instance may publish, as the database holds it now."""

    holder: str | None
    expires_in_s: float
    renewal_overdue_s: float  # > 0: the holder missed its renewal by this long (it may be dead)

    @property
    def vacant(self) -> bool:
        return self.holder is None or self.expires_in_s <= 0


@dataclass
class DeliveryState:
    """What `read_delivery_state` found; None where a read failed or does not apply."""

    lease: RelayLease | None = None
    pending_events: int | None = None
    oldest_pending_age_s: float | None = None
    sink_owners: dict[str, str | None] = field(default_factory=dict)  # once sinks only
    error: str = ""

    def relay_problem(self) -> str:
        """Why events are not being published now ("" when they are, or nobody can tell)."""
        waiting = self.oldest_pending_age_s or 0.0
        lease = self.lease
        if lease is not None and lease.vacant:
            return f"no instance holds the relay lease; {self.pending_events or 0} events wait in the outbox"
        if lease is not None and lease.renewal_overdue_s > 0:
            return (
                f"the relay lease holder {lease.holder} is {lease.renewal_overdue_s:.1f} s overdue renewing "
                f"it (stopped?); another instance takes over in {max(lease.expires_in_s, 0):.1f} s"
            )
        if waiting > STALLED_AFTER_S:
            return f"{self.pending_events} committed events have waited {waiting:.1f} s for the relay"
        return ""


async def read_delivery_state(app: web.Application) -> DeliveryState:
    """Read the relay lease, the outbox's waiting events and the `once` sinks' owners, within
    `READ_TIMEOUT_S`; what could not be read is left None and named in `error`."""
    state = DeliveryState()
    database = app.get(DATABASE)
    pipeline = app.get(EVENT_PIPELINE)
    if database is None:
        state.error = "the database is not open"
        return state
    try:
        async with asyncio.timeout(READ_TIMEOUT_S):
            await _read_outbox_and_lease(app, state)
    except Exception as exc:  # a scrape or probe reports it; the database's watch logs outages
        database.outage.report(exc)
        state.error = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
    if pipeline is not None:
        for name, feed in pipeline.runner.feeds.items():
            owner = getattr(feed, "owner", None)
            if owner is None:
                continue  # not a `once` feed shared between instances
            with contextlib.suppress(Exception):
                async with asyncio.timeout(READ_TIMEOUT_S):
                    state.sink_owners[name] = await owner()
    return state


async def _read_outbox_and_lease(app: web.Application, state: DeliveryState) -> None:
    settings = app[SETTINGS]
    waiting = select(event_outbox.c.id).where(event_outbox.c.seq.is_(None)).limit(PENDING_COUNT_CAP)
    async with app[DATABASE].read() as connection:
        lease = (
            await connection.execute(
                select(event_relay.c.holder, event_relay.c.expires_at).where(event_relay.c.name == "relay")
            )
        ).first()
        count = (await connection.execute(select(func.count()).select_from(waiting.subquery()))).scalar_one()
        oldest = (
            await connection.execute(
                select(event_outbox.c.created_at)
                .where(event_outbox.c.seq.is_(None))
                .order_by(event_outbox.c.id)
                .limit(1)
            )
        ).scalar_one_or_none()
    now_ms = time.time_ns() // 1_000_000
    state.pending_events = int(count)
    state.oldest_pending_age_s = (
        0.0 if oldest is None else max(0.0, (_utc_now() - _aware(oldest)).total_seconds())
    )
    if lease is not None:
        expires_in_ms = int(lease.expires_at) - now_ms
        # The holder renews at least every third of the lease (plus one poll); a second of grace.
        renewed_ms_ago = settings.relay_lease_ms - expires_in_ms
        allowed_ms = settings.relay_lease_ms / 3 + settings.relay_poll_ms + 1000
        state.lease = RelayLease(
            holder=lease.holder,
            expires_in_s=expires_in_ms / 1000,
            renewal_overdue_s=max(0.0, (renewed_ms_ago - allowed_ms) / 1000) if lease.holder else 0.0,
        )


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _aware(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes (stored as UTC)."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def state_as_dict(state: DeliveryState) -> dict[str, Any]:
    """For the `/ready` body."""
    lease = state.lease
    return {
        "relay_lease": None
        if lease is None
        else {
            "holder": lease.holder,
            "vacant": lease.vacant,
            "expires_in_s": round(lease.expires_in_s, 3),
            "renewal_overdue_s": round(lease.renewal_overdue_s, 3),
        },
        "outbox_pending": state.pending_events,
        "outbox_oldest_pending_s": None
        if state.oldest_pending_age_s is None
        else round(state.oldest_pending_age_s, 3),
        "sink_owners": state.sink_owners,
        "problem": state.relay_problem(),
        "error": state.error,
    }

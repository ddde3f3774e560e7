"""Eventing wired into an app: the outbox's commit signal, the bus, the relay and the sink runner.

`events_context` is the app's `cleanup_ctx` entry. Sinks are taken from `app[EVENT_SINKS]` when the
app starts (plugins add theirs from `titan_event_sinks`, tests with `add_event_sink`).
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
from collections.abc import AsyncIterator, Sequence
from typing import Any

from aiohttp import web
from sqlalchemy import select

from titan_core.delivery.bus import EventBus, MemoryBus, OutgoingEvent, SinkFeed
from titan_core.delivery.once_feed import DurableOnceFeed
from titan_core.delivery.outbox_listener import OutboxListener
from titan_core.delivery.relay import Relay
from titan_core.delivery.runner import SinkRunner, check_sinks
from titan_core.delivery.sink import EventSink
from titan_core.eventtypes.envelope import with_titanseq
from titan_core.keys import BUS, DATABASE, EVENT_PIPELINE, EVENT_SINKS, REPOSITORY, SETTINGS
from titan_core.settings import Settings, SettingsError
from titan_core.store.database import Database
from titan_core.store.outbox import OutboxRecorder
from titan_core.store.tables import event_outbox, event_relay

log = logging.getLogger(__name__)


def new_instance_id() -> str:
    """Names this process on the bus (relay lease holder, Redis consumer): host, pid, random."""
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"


def open_bus(settings: Settings, instance_id: str) -> EventBus:
    """The bus the `bus` setting names: "memory", or a redis:// URL."""
    if settings.bus == "memory":
        return MemoryBus(retention=settings.event_retention, backlog_limit=settings.event_backlog_limit)
    if settings.bus.startswith(("redis://", "rediss://", "unix://")):
        try:
            from titan_core.delivery.redis_bus import RedisBus
        except ImportError as exc:  # pragma: no cover - depends on the installation
            raise SettingsError(
                f"setting 'bus' is a Redis URL but the Python package redis is missing ({exc}); "
                "install it with pip install redis"
            ) from None
        return RedisBus(
            settings.bus,
            prefix=settings.bus_prefix,
            retention=settings.event_retention,
            backlog_limit=settings.event_backlog_limit,
            lease_ms=settings.sink_lease_ms,
            instance_id=instance_id,
        )
    raise SettingsError(f"setting 'bus' must be 'memory' or a Redis URL, got {settings.bus!r}")


class EventPipeline:
    """Everything eventing runs in one process."""

    def __init__(
        self,
        settings: Settings,
        database: Database,
        sinks: Sequence[EventSink] = (),
        *,
        recorder: OutboxRecorder | None = None,
        instance_id: str | None = None,
    ) -> None:
        check_sinks(sinks)
        self.settings = settings
        self.database = database
        self.recorder = recorder
        self.instance_id = instance_id or new_instance_id()
        self.bus = open_bus(settings, self.instance_id)
        self.wake = recorder.committed if recorder is not None else asyncio.Event()
        self.relay = Relay(
            database,
            self.bus,
            wake=self.wake,
            instance_id=self.instance_id,
            batch_size=settings.relay_batch_size,
            poll_ms=settings.relay_poll_ms,
            lease_ms=settings.relay_lease_ms,
            retention=settings.event_retention,
            backlog_limit=settings.event_backlog_limit,
        )
        self.runner = SinkRunner(
            self.bus,
            sinks,
            batch_size=settings.sink_batch_size,
            timeout_s=settings.sink_timeout_ms / 1000,
            retry_max_s=settings.sink_retry_max_ms / 1000,
            open_feed=self._open_feed,
        )
        # On PostgreSQL a commit on any instance wakes the relay at once; SQLite has one process.
        self.listener = None if database.is_sqlite else OutboxListener(database.url, self.wake)

    async def start(self) -> None:
        if self.recorder is not None:
            self.recorder.wake_after_commit(self.database.write_engines)
        if self.listener is not None:
            self.listener.start()
        await self.bus.start()
        if isinstance(self.bus, MemoryBus):
            await self._prime(self.bus)
        # Feeds first: a new `once` sink's consumer group must exist before anything is published.
        await self.runner.start()
        if self.settings.relay_paused:
            log.warning("the event relay is paused (setting relay_paused): events wait in the outbox")
        else:
            self.relay.start()

    async def stop(self) -> None:
        if self.listener is not None:
            await self.listener.stop()
        await self.relay.stop()
        await self.runner.stop()
        await self.bus.close()
        if self.recorder is not None:
            self.recorder.stop_waking(self.database.write_engines)

    def status(self) -> dict[str, Any]:
        """The state `/ready` shows: bus head, relay, and each sink's position, lag and errors."""
        relay = {**self.relay.status(), "paused": self.settings.relay_paused}
        return {"bus": self.bus.status(), "relay": relay, "sinks": self.runner.statuses()}

    async def _open_feed(self, sink: EventSink) -> SinkFeed:
        """A `once` sink on a shared bus reads through its durable, fenced feed (once_feed.py); on
        the memory bus (one process) and for `each_instance` sinks the bus's own feed serves."""
        if sink.fanout != "once" or isinstance(self.bus, MemoryBus):
            return await self.bus.open_feed(sink)
        feed = DurableOnceFeed(
            self.bus,
            self.database,
            sink.name,
            instance_id=self.instance_id,
            lease_ms=self.settings.sink_lease_ms,
            batch_timeout_ms=self.settings.sink_timeout_ms,
        )
        await feed.prepare()
        return feed

    async def _prime(self, bus: MemoryBus) -> None:
        """Reload the history published before this process started, so `/events` keeps it."""
        async with self.database.read() as connection:
            published = (
                await connection.execute(
                    select(event_relay.c.published_seq).where(event_relay.c.name == "relay")
                )
            ).scalar_one_or_none() or 0
            rows = (
                await connection.execute(
                    select(event_outbox.c.seq, event_outbox.c.envelope)
                    .where(event_outbox.c.seq.is_not(None), event_outbox.c.seq <= published)
                    .order_by(event_outbox.c.seq.desc())
                    .limit(self.settings.event_retention)
                )
            ).all()
        events = [
            OutgoingEvent(int(row.seq), with_titanseq(row.envelope, int(row.seq))) for row in reversed(rows)
        ]
        if events:
            bus.prime(events)
        elif published:
            bus.log.reset(int(published))


async def events_context(app: web.Application) -> AsyncIterator[None]:
    """`cleanup_ctx` entry (after the database's): runs the pipeline while the app runs."""
    repository = app[REPOSITORY]
    recorder = repository.recorder if isinstance(repository.recorder, OutboxRecorder) else None
    pipeline = EventPipeline(app[SETTINGS], app[DATABASE], list(app.get(EVENT_SINKS, ())), recorder=recorder)
    await pipeline.start()
    app[EVENT_PIPELINE] = pipeline
    app[BUS] = pipeline.bus
    try:
        yield
    finally:
        await pipeline.stop()


def add_event_sink(app: web.Application, sink: EventSink) -> None:
    """Register a sink before the app starts (the plugin host does this for `titan_event_sinks`)."""
    if app.frozen:
        raise RuntimeError(f"event sink {sink.name!r} added after the app started; add sinks before")
    sinks = app.get(EVENT_SINKS)
    if sinks is None:
        sinks = []
        app[EVENT_SINKS] = sinks
    check_sinks([*sinks, sink])
    sinks.append(sink)


def event_status(app: web.Application) -> dict[str, Any] | None:
    """For `/ready`: the pipeline's status, or None before the app started."""
    pipeline = app.get(EVENT_PIPELINE)
    return None if pipeline is None else pipeline.status()

"""Wakes this instance's relay when any instance commits events (PostgreSQL LISTEN/NOTIFY).

A trigger on the outbox (migration 0004_sink_positions) notifies the channel `titan_outbox` when a
transaction that inserted events commits. One dedicated asyncpg connection per instance listens, and
reconnects when it breaks; the relay's poll (`relay_poll_ms`) stays as the fallback meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from typing import Any

import asyncpg
from sqlalchemy.engine import URL

from titan_core.store.asyncpg_arguments import asyncpg_connect_arguments
from titan_core.tasks import cancel_and_wait

log = logging.getLogger(__name__)

CHANNEL = "titan_outbox"
_RETRY_FIRST_S = 0.5
_RETRY_MAX_S = 5.0
_CHECK_EVERY_S = 15.0


class OutboxListener:
    """LISTEN on `titan_outbox`; every notification (and every reconnect) sets `wake`."""

    def __init__(self, url: URL, wake: asyncio.Event) -> None:
        self._connect_arguments = asyncpg_connect_arguments(url)
        self._safe = url.render_as_string(hide_password=True)
        self.wake = wake
        self.listening = False
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="titan-outbox-listener")

    async def stop(self) -> None:
        if self._task is not None:
            await cancel_and_wait(self._task)
            self._task = None

    async def _run(self) -> None:
        pause = _RETRY_FIRST_S
        while True:
            connection: Any = None
            try:
                connection = await asyncpg.connect(timeout=5, **self._connect_arguments)
                closed = asyncio.Event()
                connection.add_termination_listener(functools.partial(_set_on_close, closed))
                await connection.add_listener(CHANNEL, self._notified)
                if not self.listening:
                    log.info("listening for outbox commits on PostgreSQL (%s)", self._safe)
                self.listening, pause = True, _RETRY_FIRST_S
                self.wake.set()  # rows committed while nobody listened
                while not closed.is_set():
                    # A connection cut without a FIN would wait forever: ask now and then.
                    # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a cancel.
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(_CHECK_EVERY_S):
                            await closed.wait()
                    if not closed.is_set():
                        async with asyncio.timeout(5):
                            await connection.execute("SELECT 1")
                # INFO, not WARNING: a database outage is reported once, by store.outage; losing
                # the listener is a consequence of it and costs only latency (the relay polls).
                log.info("the outbox listener's connection closed; reconnecting (the relay polls meanwhile)")
            except asyncio.CancelledError:
                raise
            except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
                if self.listening or pause == _RETRY_FIRST_S:
                    log.info("cannot listen for outbox commits (%s); the relay polls meanwhile", exc)
                self.listening = False
                await asyncio.sleep(pause)
                pause = min(pause * 2, _RETRY_MAX_S)
            finally:
                if connection is not None:
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(connection.close(), 2)
            self.listening = False

    def _notified(self, _connection: Any, _pid: int, _channel: str, _payload: str) -> None:
        self.wake.set()


def _set_on_close(closed: asyncio.Event, _connection: Any) -> None:
    closed.set()

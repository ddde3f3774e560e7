"""A `once` sink on Redis: one consumer group per sink, delivered by one instance at a time.

A lease key (`{prefix}sink:{name}:owner`, renewed while the process lives) picks the instance that
delivers, so events stay in order across a deployment. The instance that takes the lease over claims
the pending entries of the one before (XAUTOCLAIM) and delivers them first: a consumer that died
mid-batch loses nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from redis.exceptions import RedisError, ResponseError

from titan_core.events.bus import BusUnavailable, event_from_json
from titan_core.events.sink import Event
from titan_core.events.stopping import cancel_and_wait

if TYPE_CHECKING:
    from titan_core.events.redis_bus import RedisBus

log = logging.getLogger(__name__)

# Take the lease when free or ours (and extend it); 1 when held by us afterwards.
_CLAIM_LEASE = """
local owner = redis.call('GET', KEYS[1])
if owner == false or owner == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
"""
_RELEASE_LEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class RedisGroupFeed:
    """The feed of one `once` sink on this instance."""

    def __init__(self, bus: RedisBus, name: str) -> None:
        self.name = name
        self.position = 0
        self.lost = 0
        self._bus = bus
        self._client = bus.client
        self._lease_key = f"{bus.prefix}sink:{name}:owner"
        self._consumer = bus.instance_id
        self._active = False
        self._lease_until = 0.0
        self._next_attempt = 0.0
        self._reading_pending = False
        self._renewer: asyncio.Task[None] | None = None
        self._claim = self._client.register_script(_CLAIM_LEASE)
        self._release = self._client.register_script(_RELEASE_LEASE)

    @property
    def active(self) -> bool:
        return self._active and time.monotonic() < self._lease_until

    async def prepare(self) -> None:
        """Create the group if it is new (it starts at the stream's head), before the relay runs."""
        with contextlib.suppress(RedisError, OSError, BusUnavailable):
            await self._ensure_group(None)

    async def owner(self) -> str | None:
        """The instance id that delivers this sink now (holds its lease); None when nobody does."""
        try:
            holder = await self._client.get(self._lease_key)
        except (RedisError, OSError) as exc:
            raise BusUnavailable(f"Redis at {self._bus.url} is not reachable: {exc}") from exc
        return holder.decode() if isinstance(holder, bytes) else holder

    async def next_batch(self, limit: int, timeout: float) -> list[Event]:
        if not self.active and not await self._try_to_take_over():
            await asyncio.sleep(max(0.0, min(timeout, self._next_attempt - time.monotonic())))
            return []
        try:
            if self._reading_pending:
                reply = await self._client.xreadgroup(
                    self.name, self._consumer, {self._bus.stream: "0"}, count=limit
                )
                events = await self._events_of(reply)
                if not reply or not reply[0][1]:
                    self._reading_pending = False
                if events:
                    return events
                if self._reading_pending:
                    return []
            reply = await self._client.xreadgroup(
                self.name,
                self._consumer,
                {self._bus.stream: ">"},
                count=limit,
                block=max(1, int(timeout * 1000)),
            )
            return await self._events_of(reply)
        except ResponseError as exc:
            if "NOGROUP" in str(exc):
                # Redis lost its data (a restart without persistence): start again where we were.
                log.warning(
                    "consumer group of sink %r is gone from Redis; recreating it at titanseq %d",
                    self.name,
                    self.position,
                )
                await self._ensure_group(self.position)
                return []
            raise BusUnavailable(f"Redis refused XREADGROUP for sink {self.name!r}: {exc}") from exc
        except (RedisError, OSError) as exc:
            raise BusUnavailable(f"Redis at {self._bus.url} is not reachable: {exc}") from exc

    async def ack(self, events: Sequence[Event]) -> None:
        if not events:
            return
        try:
            await self._client.xack(self._bus.stream, self.name, *[f"{item.titanseq}-0" for item in events])
        except (RedisError, OSError) as exc:
            raise BusUnavailable(f"Redis at {self._bus.url} is not reachable: {exc}") from exc
        self.position = max(self.position, events[-1].titanseq)

    def skip_to(self, seq: int) -> None:
        self.position = max(self.position, seq)

    async def close(self) -> None:
        if self._renewer is not None:
            await cancel_and_wait([self._renewer])
        if self._active:
            with contextlib.suppress(RedisError, OSError):
                await self._release(keys=[self._lease_key], args=[self._consumer])
        self._active = False

    # ------------------------------------------------------------------ internals

    async def _events_of(self, reply: Any) -> list[Event]:
        events: list[Event] = []
        trimmed: list[bytes] = []
        for _stream, entries in reply or ():
            for entry_id, fields in entries:
                if fields:
                    events.append(event_from_json(fields[b"e"]))
                else:
                    trimmed.append(entry_id)
        if trimmed:
            # Pending entries whose event was trimmed away: acknowledge them, and say so.
            self.lost += len(trimmed)
            log.error(
                "sink %r lost %d pending events trimmed from the stream (%s…)",
                self.name,
                len(trimmed),
                trimmed[0].decode(),
            )
            await self._client.xack(self._bus.stream, self.name, *trimmed)
        return events

    async def _ensure_group(self, start: int | None) -> None:
        start_id = "$" if start is None else f"{start}-0"
        try:
            await self._client.xgroup_create(self._bus.stream, self.name, id=start_id, mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise BusUnavailable(f"Redis refused XGROUP CREATE for sink {self.name!r}: {exc}") from exc
        except (RedisError, OSError) as exc:
            raise BusUnavailable(f"Redis at {self._bus.url} is not reachable: {exc}") from exc
        if start is None:
            for group in await self._client.xinfo_groups(self._bus.stream):
                if group["name"].decode() == self.name:
                    self.position = int(group["last-delivered-id"].decode().split("-")[0])

    async def _try_to_take_over(self) -> bool:
        now = time.monotonic()
        if now < self._next_attempt:
            return False
        self._next_attempt = now + self._bus.lease_ms / 3000
        try:
            if not await self._claim(keys=[self._lease_key], args=[self._consumer, self._bus.lease_ms]):
                return False
            self._lease_until = time.monotonic() + self._bus.lease_ms / 1000
            await self._ensure_group(None)
            claimed = await self._claim_pending()
        except (RedisError, OSError) as exc:
            raise BusUnavailable(f"Redis at {self._bus.url} is not reachable: {exc}") from exc
        if claimed:
            log.warning(
                "sink %r: took over %d pending events of an instance that stopped", self.name, claimed
            )
        log.info(
            "sink %r is delivered by this instance (%s) from titanseq %d",
            self.name,
            self._consumer,
            self.position,
        )
        self._active = True
        self._reading_pending = True
        if self._renewer is None or self._renewer.done():
            self._renewer = asyncio.create_task(self._renew(), name=f"titan-sink-lease-{self.name}")
        return True

    async def _claim_pending(self) -> int:
        """Make every pending entry of the group ours (we hold the lease: their owners are gone)."""
        claimed = 0
        start = "0-0"
        while True:
            reply = await self._client.xautoclaim(
                self._bus.stream, self.name, self._consumer, 0, start_id=start, count=1000
            )
            claimed += len(reply[1])
            start = reply[0].decode() if isinstance(reply[0], bytes) else str(reply[0])
            if start == "0-0":
                break
        for consumer in await self._client.xinfo_consumers(self._bus.stream, self.name):
            name = consumer["name"].decode()
            if name != self._consumer and not consumer["pending"]:
                await self._client.xgroup_delconsumer(self._bus.stream, self.name, name)
        return claimed

    async def _renew(self) -> None:
        interval = self._bus.lease_ms / 3000
        while self._active:
            await asyncio.sleep(interval)
            try:
                held = await self._claim(keys=[self._lease_key], args=[self._consumer, self._bus.lease_ms])
            except (RedisError, OSError):
                continue  # the lease runs out on its own if Redis stays away
            if held:
                self._lease_until = time.monotonic() + self._bus.lease_ms / 1000
            else:
                log.warning("sink %r: another instance took over its delivery", self.name)
                self._active = False

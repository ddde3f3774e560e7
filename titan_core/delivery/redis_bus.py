"""The `redis` bus: one Redis Stream shared by every Titan instance (entry id = `{titanseq}-0`).

The relay leader XADDs; every instance tails the stream into its local `EventLog` (for `/events`,
`each_instance` sinks, `X-Titan-Seq`). `once` sinks keep their position and lease in the database,
not here (once_feed.py): Redis may restart empty. Keys live under the `bus_prefix` setting:
`{prefix}events` (the stream) and `{prefix}positions` (where `each_instance` readers stand).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError

from titan_core.delivery.bus import (
    BusUnavailable,
    EventBus,
    HistoryExpired,
    OutgoingEvent,
    PositionFeed,
    SinkFeed,
    event_from_json,
)
from titan_core.delivery.sink import Event, EventSink
from titan_core.delivery.stopping import cancel_and_wait

log = logging.getLogger(__name__)

# An each_instance reader's position is dropped from trimming decisions when not refreshed this long.
POSITION_STALE_MS = 60_000
_TAIL_BLOCK_MS = 1000
# Entries per XREAD of the tail: parsing and decoding them is one turn of the event loop, so a tail
# that fell behind must not take a thousand at once (some 20-30 ms on a slow core, which requests
# on the same loop wait out); a hundred keep a turn near 2 ms and still read 20,000 events/s.
_TAIL_READ_COUNT = 100
_POSITIONS_EVERY_S = 1.0

# XADD with the titanseq as entry id, in one script: entries already there are skipped (a relay that
# died after publishing), and when the caller knows it published before (ARGV[1] == '1') a missing
# stream means Redis restarted empty: the script then adds nothing, so the relay first publishes
# again, from the outbox, the history the new stream lacks, and the stream never has a hole.
_PUBLISH = """
if ARGV[1] == '1' and redis.call('EXISTS', KEYS[1]) == 0 then
  return redis.error_reply('TITANRESET the stream is gone')
end
local added = 0
for i = 2, #ARGV, 2 do
  if pcall(redis.call, 'XADD', KEYS[1], ARGV[i], 'e', ARGV[i + 1]) then added = added + 1 end
end
return added
"""


def seq_of(entry_id: bytes | str) -> int:
    text = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    return int(text.split("-", 1)[0])


class RedisBus(EventBus):
    kind = "redis"

    def __init__(
        self,
        url: str,
        *,
        prefix: str,
        retention: int,
        backlog_limit: int,
        lease_ms: int,
        instance_id: str,
    ) -> None:
        super().__init__(retention=retention, backlog_limit=backlog_limit)
        self.url = url
        self.prefix = prefix
        self.stream = f"{prefix}events"
        self.positions_key = f"{prefix}positions"
        self.lease_ms = lease_ms
        self.instance_id = instance_id
        # Any: replies are parsed by hand, and redis-py's reply types differ between its versions.
        self.client: Any = Redis.from_url(url, socket_timeout=5, socket_connect_timeout=2)
        self.reachable = False
        self.last_error = ""
        self._published: int | None = None
        self._tail_task: asyncio.Task[None] | None = None
        self._positions: dict[str, int] = {}
        self._tail_started = asyncio.Event()
        self._closing = False
        self._publish_script = self.client.register_script(_PUBLISH)

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        self._tail_task = asyncio.create_task(self._tail(), name="titan-redis-tail")
        # Sinks and /events need the starting head; a Redis that is down must not stop the server.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._tail_started.wait(), 3.0)

    async def close(self) -> None:
        self._closing = True
        if self._tail_task is not None:
            await cancel_and_wait([self._tail_task])
        if self._positions:
            with contextlib.suppress(RedisError, OSError):
                await self.client.hdel(
                    self.positions_key, *[self._position_field(n) for n in self._positions]
                )
        await self.client.aclose()

    # ------------------------------------------------------------------ publishing (relay)

    async def published_head(self) -> int:
        try:
            info = await self.client.xinfo_stream(self.stream)
        except ResponseError as exc:
            if "no such key" in str(exc).lower():
                return 0
            raise BusUnavailable(f"Redis refused XINFO: {exc}") from exc
        except (RedisError, OSError) as exc:
            raise BusUnavailable(f"Redis at {self.url} is not reachable: {exc}") from exc
        return seq_of(info["last-generated-id"])

    async def publish(self, events: Sequence[OutgoingEvent]) -> None:
        if self._published is None:
            self._published = await self.published_head()
        todo = [item for item in events if item.seq > self._published]
        if not todo:
            return
        args: list[Any] = ["1" if self._published > 0 else "0"]
        for item in todo:
            args.extend((f"{item.seq}-0", item.json))
        try:
            await self._publish_script(keys=[self.stream], args=args)
        except ResponseError as exc:
            self._published = None
            if "TITANRESET" in str(exc):
                log.warning(
                    "the event stream is gone from Redis (restarted empty?); publishing its history again"
                )
            raise BusUnavailable(f"Redis refused to publish: {exc}") from exc
        except (RedisError, OSError) as exc:
            self._published = None
            raise BusUnavailable(f"Redis at {self.url} is not reachable: {exc}") from exc
        self._published = todo[-1].seq

    async def maintain(self, needed: Mapping[str, int] | None = None) -> None:
        """Trim the stream: keep `retention` events and what sinks still need, up to the backlog bound."""
        head = self._published if self._published is not None else await self.published_head()
        floor = head - self.retention + 1
        needs = {
            **await self._oldest_needed(),
            **{f"once:{name}": seq for name, seq in (needed or {}).items()},
        }
        wanted = min([floor, *needs.values()])
        hard_floor = head - self.backlog_limit + 1
        if wanted < hard_floor:
            # Readers that far behind are told when they read (HistoryExpired), and only then counted:
            # a reader may never come back, and one that does counts exactly what it missed.
            behind = sorted(name for name, seq in needs.items() if seq < hard_floor)
            log.debug("trimming the stream before titanseq %d, past readers %s", hard_floor, behind)
            wanted = hard_floor
        if wanted > 1:
            try:
                await self.client.xtrim(self.stream, minid=f"{wanted}-0", approximate=False)
            except (RedisError, OSError) as exc:
                raise BusUnavailable(f"Redis refused XTRIM: {exc}") from exc

    async def _oldest_needed(self) -> dict[str, int]:
        """Per `each_instance` reader of an instance: the oldest titanseq it has not consumed yet."""
        needs: dict[str, int] = {}
        try:
            now = _now_ms()
            stale = []
            for field, value in (await self.client.hgetall(self.positions_key)).items():
                seq_text, _, stamp = value.decode().partition("|")
                if now - int(stamp or 0) > POSITION_STALE_MS:
                    stale.append(field)
                else:
                    needs[f"each_instance:{field.decode()}"] = int(seq_text) + 1
            if stale:
                await self.client.hdel(self.positions_key, *stale)
        except ResponseError as exc:
            if "no such key" not in str(exc).lower():
                raise BusUnavailable(f"Redis refused XINFO GROUPS: {exc}") from exc
        except (RedisError, OSError) as exc:
            raise BusUnavailable(f"Redis at {self.url} is not reachable: {exc}") from exc
        return needs

    # ------------------------------------------------------------------ reading

    async def read(self, after: int, limit: int) -> list[Event]:
        if self.log.covers(after):
            return self.log.read(after, limit)
        # Older than the local tail: the stream itself has more history.
        try:
            entries = await self.client.xrange(self.stream, min=f"({after}-0", max="+", count=limit)
            oldest = await self.oldest() if not entries or seq_of(entries[0][0]) > after + 1 else after + 1
        except (RedisError, OSError) as exc:
            raise BusUnavailable(f"Redis at {self.url} is not reachable: {exc}") from exc
        if oldest > after + 1 and after < self.head():
            raise HistoryExpired(after, oldest)
        return [event_from_json(fields[b"e"]) for _entry_id, fields in entries if fields]

    async def oldest(self) -> int:
        try:
            first = await self.client.xrange(self.stream, min="-", max="+", count=1)
        except (RedisError, OSError) as exc:
            raise BusUnavailable(f"Redis at {self.url} is not reachable: {exc}") from exc
        return seq_of(first[0][0]) if first else self.head() + 1

    async def open_feed(self, sink: EventSink) -> SinkFeed:
        if sink.fanout == "once":
            raise ValueError(
                f"sink {sink.name!r} is a 'once' sink: on a shared bus its feed keeps its position and "
                "lease in the database (titan_core.delivery.once_feed.DurableOnceFeed)"
            )
        return _InstanceFeed(self, sink.name, self.head())

    def note_position(self, name: str, seq: int) -> None:
        self._positions[name] = seq

    def forget_position(self, name: str) -> None:
        self._positions.pop(name, None)

    def _position_field(self, name: str) -> str:
        return f"{self.instance_id}|{name}"

    def status(self) -> dict[str, Any]:
        return {**super().status(), "reachable": self.reachable, "error": self.last_error}

    # ------------------------------------------------------------------ the local tail

    async def _tail(self) -> None:
        last_id: str | None = None
        pause = 0.05
        positions_due = 0.0
        while not self._closing:
            try:
                if last_id is None:
                    head = await self.published_head()
                    self.log.reset(head)
                    last_id = f"{head}-0"
                    self._tail_started.set()
                reply = await self.client.xread(
                    {self.stream: last_id}, count=_TAIL_READ_COUNT, block=_TAIL_BLOCK_MS
                )
                for _stream, entries in reply or ():
                    events = [event_from_json(fields[b"e"]) for _entry_id, fields in entries if fields]
                    last_id = entries[-1][0].decode()
                    self.log.append(events)
                if time.monotonic() >= positions_due and self._positions:
                    await self._write_positions()
                    positions_due = time.monotonic() + _POSITIONS_EVERY_S
                if not self.reachable:
                    log.info("Redis bus at %s is reachable (tail at titanseq %d)", self.url, self.log.head)
                self.reachable, self.last_error, pause = True, "", 0.05
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError, BusUnavailable) as exc:
                if self.reachable or not self.last_error:
                    log.warning("Redis bus at %s is not reachable: %s; retrying", self.url, exc)
                self.reachable, self.last_error = False, str(exc)
                self._tail_started.set()
                await asyncio.sleep(pause)
                pause = min(pause * 2, 0.5)  # back within a second of Redis (for /ready, /events)

    async def _write_positions(self) -> None:
        stamp = _now_ms()
        mapping = {self._position_field(name): f"{seq}|{stamp}" for name, seq in self._positions.items()}
        await self.client.hset(self.positions_key, mapping=mapping)


class _InstanceFeed(PositionFeed):
    """An `each_instance` sink on Redis: reads this instance's tail (or the stream, when far behind)."""

    def __init__(self, bus: RedisBus, name: str, start: int) -> None:
        super().__init__(bus, name, start)
        self._redis_bus = bus  # its positions go to Redis, for the stream's trimming
        bus.note_position(name, start)

    def _note(self, seq: int) -> None:
        self._redis_bus.note_position(self.name, seq)

    async def close(self) -> None:
        self._redis_bus.forget_position(self.name)


def _now_ms() -> int:
    return time.time_ns() // 1_000_000

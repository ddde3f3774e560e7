"""A two-instance Titan deployment on throwaway PostgreSQL, Redis and Mosquitto, with observers.

Used by the fault tests (tests/cluster) and the benchmark (bench/cluster_faults.py). `Cluster`
starts everything and injects faults (kill Redis, kill an instance, kill the broker, stop
PostgreSQL); `Observers` run a writer and one reader per channel (`/events`, a WebSocket client
per instance, an MQTT subscriber); `check` says, per channel, which acknowledged writes are
missing, duplicated or out of order. Never the shared services: every service is private.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import secrets
import signal
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import aiomqtt

from tests.support.live_server import LiveServer, start_live_server
from tests.support.mosquitto import ThrowawayMosquitto
from tests.support.postgres import ThrowawayPostgres
from tests.support.redis import ThrowawayRedis
from titan_core.model.identifiers import encode_identifier

SUBMODEL_ID = "https://example.com/ids/sm/cluster"
ELEMENTS = [f"P{index:02d}" for index in range(10)]
TOPIC_PREFIX = "titan"
# Short leases, so a takeover after `kill -9` is a matter of seconds (production: 10 s each).
FAST_LEASES = {
    "TITAN_RELAY_LEASE_MS": "2000",
    "TITAN_SINK_LEASE_MS": "2000",
    "TITAN_SINK_TIMEOUT_MS": "2000",
    "TITAN_SINK_RETRY_MAX_MS": "2000",
}


def _value_path(name: str) -> str:
    return f"/submodels/{encode_identifier(SUBMODEL_ID)}/submodel-elements/{name}/$value"


def submodel_document() -> dict[str, Any]:
    return {
        "modelType": "Submodel",
        "id": SUBMODEL_ID,
        "idShort": "Cluster",
        "submodelElements": [
            {"modelType": "Property", "idShort": name, "valueType": "xs:int", "value": "0"}
            for name in ELEMENTS
        ],
    }


class Cluster:
    """Two `titan serve` processes sharing private PostgreSQL, Redis and Mosquitto."""

    def __init__(self, workdir: Path, *, env: Mapping[str, str] | None = None, instances: int = 2) -> None:
        self.workdir = workdir
        self.extra_env = dict(env or {})
        self.count = instances
        self.postgres = ThrowawayPostgres()
        self.redis = ThrowawayRedis()
        self.mosquitto = ThrowawayMosquitto()
        self.servers: list[LiveServer] = []

    @property
    def env(self) -> dict[str, str]:
        return {
            "TITAN_BUS": self.redis.url,
            "TITAN_MQTT_URL": self.mosquitto.url,
            "TITAN_MQTT_PREFIX": TOPIC_PREFIX,
            **FAST_LEASES,
            **self.extra_env,
        }

    def start(self) -> None:
        self.postgres.start()
        self.redis.start()
        self.mosquitto.start()
        for _ in range(self.count):
            self.servers.append(self._launch())

    def _launch(self, port: int | None = None) -> LiveServer:
        # A generous start-up deadline: on a loaded machine importing everything takes a while.
        return start_live_server(self.postgres.url, log_dir=self.workdir, env=self.env, port=port, timeout=90)

    def stop(self) -> None:
        for server in self.servers:
            with contextlib.suppress(Exception):
                server.stop(grace=5)
        for service in (self.mosquitto, self.redis, self.postgres):
            with contextlib.suppress(Exception):
                service.cleanup()

    def base_url(self, index: int) -> str:
        return self.servers[index].base_url

    def kill(self, index: int) -> None:
        """`kill -9` of one instance (no shutdown hooks: its leases are not handed back)."""
        self.servers[index].kill()

    def pause_broker(self) -> None:
        """Freeze Mosquitto (SIGSTOP): publishers get no acknowledgements, sessions stay in memory."""
        assert self.mosquitto._process is not None
        self.mosquitto._process.send_signal(signal.SIGSTOP)

    def resume_broker(self) -> None:
        assert self.mosquitto._process is not None
        self.mosquitto._process.send_signal(signal.SIGCONT)

    def restart(self, index: int) -> None:
        """Start a killed instance again on its port (its WebSocket client reconnects there)."""
        self.servers[index] = self._launch(port=self.servers[index].port)

    async def ready(self, index: int) -> dict[str, Any]:
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"{self.base_url(index)}/ready", timeout=aiohttp.ClientTimeout(total=5)) as reply,
        ):
            body: dict[str, Any] = await reply.json()
            return body

    async def holder_of(self, sink: str, timeout: float = 20.0) -> int:
        """The index of the instance that delivers the `once` sink `sink` now."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for index in range(len(self.servers)):
                with contextlib.suppress(aiohttp.ClientError, OSError, TimeoutError):
                    events = (await self.ready(index)).get("events") or {}
                    if any(s["name"] == sink and s["active"] for s in events.get("sinks", [])):
                        return index
            await asyncio.sleep(0.2)
        raise AssertionError(f"no instance delivers sink {sink!r} after {timeout} s")

    async def lost_events(self) -> int:
        """The sum of `lost_events` over every sink of every running instance."""
        total = 0
        for index, server in enumerate(self.servers):
            if server.running():
                events = (await self.ready(index)).get("events") or {}
                total += sum(int(s["lost_events"]) for s in events.get("sinks", []))
        return total

    def logs(self) -> str:
        return "\n".join(f"--- instance {i}\n{s.log_tail(60)}" for i, s in enumerate(self.servers))


# `make_cluster(env=None) -> Cluster`, the fixture in tests/cluster/conftest.py.
ClusterFactory = Callable[..., Cluster]


@dataclass
class Received:
    """One event as a channel saw it."""

    seq: int
    event_id: str
    path: str
    value: Any
    arrived: float
    # Wall-clock seconds from the envelope's `time` (set in the write's transaction) to arrival.
    latency: float


def _latency(envelope: Mapping[str, Any]) -> float:
    moment = datetime.fromisoformat(str(envelope.get("time", "")).replace("Z", "+00:00"))
    return time.time() - moment.timestamp()


@dataclass
class Channel:
    name: str
    received: list[Received] = field(default_factory=list)

    def add(self, envelope: Mapping[str, Any]) -> None:
        if envelope.get("titanentity") != "element" or "valueChanged" not in str(envelope.get("type")):
            return
        self.received.append(Received(int(envelope["titanseq"]), str(envelope["id"]),
                                      str(envelope.get("titanpath")), envelope.get("data"),
                                      time.monotonic(), _latency(envelope)))  # fmt: skip


@dataclass
class Acknowledged:
    path: str
    value: int
    at: float


@dataclass
class Verdict:
    """One channel's result: what it lacks, repeats and has out of order, of the acknowledged writes."""

    channel: str
    acknowledged: int
    lost: int
    duplicated: int
    out_of_order: int
    missing: list[tuple[str, int]]

    @property
    def ok(self) -> bool:
        return self.lost == 0 and self.out_of_order == 0


def verdict(channel: Channel, acknowledged: list[Acknowledged], since: float = 0.0) -> Verdict:
    """Judge `channel` against the writes acknowledged at or after `since` (monotonic seconds)."""
    acknowledged = [a for a in acknowledged if a.at >= since]
    seen: dict[tuple[str, Any], int] = {}
    copies: dict[str, int] = {}
    newest: dict[str, int] = {}
    out_of_order = 0
    for item in channel.received:
        copies[item.event_id] = copies.get(item.event_id, 0) + 1
        if copies[item.event_id] > 1:
            continue  # a repeat (docs/events.md, Guarantees): consumers skip titanseq <= newest seen
        seen[(item.path, item.value)] = item.seq
        if item.seq < newest.get(item.path, 0):
            out_of_order += 1  # a first arrival after a newer event of the same element
        newest[item.path] = max(newest.get(item.path, 0), item.seq)
    missing = [(a.path, a.value) for a in acknowledged if (a.path, a.value) not in seen]
    duplicated = sum(count - 1 for count in copies.values())
    return Verdict(channel.name, len(acknowledged), len(missing), duplicated, out_of_order, missing[:10])


class Observers:
    """The writer and the readers of one run: `/events`, a WebSocket client per instance, MQTT."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.acknowledged: list[Acknowledged] = []
        self.refused: dict[int, int] = {}  # status (0: no answer) -> count
        self.channels = {name: Channel(name) for name in self.channel_names(cluster)}
        self._values = itertools.count(1)
        self._tasks: list[asyncio.Task[None]] = []
        self._session: aiohttp.ClientSession | None = None
        self.mqtt_subscribed = asyncio.Event()
        self.ws_subscribed = [asyncio.Event() for _ in cluster.servers]

    @staticmethod
    def channel_names(cluster: Cluster) -> list[str]:
        return ["events", *[f"ws{index}" for index in range(len(cluster.servers))], "mqtt"]

    async def start(self) -> None:
        self._session = aiohttp.ClientSession()
        async with self._session.post(
            f"{self.cluster.base_url(0)}/submodels", json=submodel_document()
        ) as reply:
            assert reply.status == 201, await reply.text()
        self._tasks.append(asyncio.create_task(self._mqtt()))
        for index in range(len(self.cluster.servers)):
            self._tasks.append(asyncio.create_task(self._websocket(index)))
        self._tasks.append(asyncio.create_task(self._events_feed()))
        async with asyncio.timeout(20):
            await self.mqtt_subscribed.wait()
            for event in self.ws_subscribed:
                await event.wait()

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._session is not None:
            await self._session.close()

    # ------------------------------------------------------------------ the writer

    async def write(self, count: int, *, rate: float) -> None:
        """`count` value writes at `rate` per second, alternating between the instances."""
        assert self._session is not None
        started = time.monotonic()
        pending: set[asyncio.Task[None]] = set()
        for number in range(count):
            due = started + number / rate
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            task = asyncio.create_task(
                self._write_one(number % len(self.cluster.servers), next(self._values))
            )
            pending.add(task)
            task.add_done_callback(pending.discard)
        if pending:
            await asyncio.gather(*pending)

    async def _write_one(self, index: int, value: int) -> None:
        assert self._session is not None
        name = ELEMENTS[value % len(ELEMENTS)]
        url = f"{self.cluster.base_url(index)}{_value_path(name)}"
        try:
            async with self._session.patch(url, json=value, timeout=aiohttp.ClientTimeout(total=10)) as reply:
                await reply.read()
                status = reply.status
        except (aiohttp.ClientError, OSError, TimeoutError):
            status = 0
        if status == 204:
            self.acknowledged.append(Acknowledged(name, value, time.monotonic()))
        else:
            self.refused[status] = self.refused.get(status, 0) + 1

    # ------------------------------------------------------------------ the readers

    async def _events_feed(self) -> None:
        """Long-polls `GET /events` on whichever instance answers, resuming after the last titanseq."""
        assert self._session is not None
        channel, cursor = self.channels["events"], "0"
        for index in itertools.cycle(range(len(self.cluster.servers))):
            try:
                while True:
                    async with self._session.get(
                        f"{self.cluster.base_url(index)}/events",
                        params={"after": cursor, "wait": "2", "limit": "1000"},
                        timeout=aiohttp.ClientTimeout(total=10),
                    ) as reply:
                        if reply.status != 200:
                            break
                        body = await reply.json()
                    for envelope in body["result"]:
                        channel.add(envelope)
                    cursor = body["paging_metadata"].get("cursor") or cursor
            except (aiohttp.ClientError, OSError, TimeoutError):
                await asyncio.sleep(0.2)

    async def _websocket(self, index: int) -> None:
        """One client of one instance; after a disconnect it resumes `since` the last titanseq seen."""
        assert self._session is not None
        channel, since = self.channels[f"ws{index}"], "0"
        while True:
            url = self.cluster.base_url(index).replace("http", "ws", 1) + "/ws/events"
            try:
                async with self._session.ws_connect(url, heartbeat=5) as socket:
                    await socket.send_json({"type": "subscribe", "id": "s1", "filter": {}, "since": since})
                    async for message in socket:
                        if message.type != aiohttp.WSMsgType.TEXT:
                            break
                        body = json.loads(message.data)
                        if body.get("type") == "subscribed":
                            self.ws_subscribed[index].set()
                        elif body.get("type") == "event":
                            channel.add(body["event"])
                            since = body["event"]["titanseq"]
            except (aiohttp.ClientError, OSError, TimeoutError):
                pass
            await asyncio.sleep(0.2)

    async def _mqtt(self) -> None:
        """An MQTT subscriber on `titan/element/#`, QoS 1, persistent session; reconnects."""
        channel = self.channels["mqtt"]
        host, port = "127.0.0.1", self.cluster.mosquitto.port
        identifier = f"cluster-observer-{secrets.token_hex(4)}"
        while True:
            try:
                async with aiomqtt.Client(
                    host, port, identifier=identifier, clean_session=False, keepalive=5
                ) as client:
                    await client.subscribe(f"{TOPIC_PREFIX}/element/#", qos=1)
                    self.mqtt_subscribed.set()
                    async for message in client.messages:
                        payload = message.payload
                        if isinstance(payload, bytes) and payload:
                            channel.add(json.loads(payload))
            except aiomqtt.MqttError:
                await asyncio.sleep(0.2)

    # ------------------------------------------------------------------ checking

    def verdicts(self, since: float = 0.0) -> list[Verdict]:
        return [verdict(channel, self.acknowledged, since) for channel in self.channels.values()]

    async def settle(self, timeout: float, since: float = 0.0) -> float:
        """Wait until every channel has every write acknowledged since `since`; returns the
        monotonic time it was so. On timeout it returns anyway: the verdicts name what is missing.
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(v.lost == 0 for v in self.verdicts(since)):
                break
            await asyncio.sleep(0.05)
        return time.monotonic()


def describe(verdicts: list[Verdict]) -> str:
    return "\n".join(
        f"{v.channel}: acknowledged {v.acknowledged}, lost {v.lost}, duplicated {v.duplicated}, "
        f"out of order {v.out_of_order}, first missing {v.missing}"
        for v in verdicts
    )


@contextlib.contextmanager
def running_cluster(workdir: Path, *, env: Mapping[str, str] | None = None) -> Iterator[Cluster]:
    cluster = Cluster(workdir, env=env)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()

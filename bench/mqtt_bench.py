"""MQTT plugin benchmarks against a real Mosquitto (default the shared one, mqtt://127.0.0.1:1883).

latency:    value writes through the Repository at --rate per second (open loop) for --seconds, in a
            Titan app with the MQTT plugin; a subscriber in its own process notes when each write's
            valueChanged arrives. Latency = arrival - commit (the moment the write returned), both
            wall-clock times of one machine.
publish:    --events ready-made events injected into a memory bus, drained by the sink runner into
            the MQTT sink (QoS --qos); events/s until the broker acknowledged the last one, and until
            a subscriber process had received the last one. --profiles titan,async-aas (or
            titan,basyx) publishes each event in those profiles too; CPU per event in the output.
rest:       REST p99 under a fixed open-loop load (bench/openloop.py, GET of a submodel at --rest-rate)
            without, then with, events injected into the app's bus at --rate per second for the MQTT
            sink to publish (relay paused, no subscriber): how much publishing costs the REST API.
            --separate-publisher: the app without the MQTT plugin, the sink publishing at --rate in
            a process of its own (a Titan instance that serves no REST traffic).
writeback:  a device process publishes --events values (QoS 1) as fast as it can to 20 elements'
            value topics; Titan applies each through the Repository and publishes its valueChanged;
            values/s from the first publish until a subscriber process had the last valueChanged.

Usage (figures in docs/performance.md, "MQTT"):
  .venv/bin/python bench/mqtt_bench.py latency --rate 500 --seconds 10 --tuned-broker
  .venv/bin/python bench/mqtt_bench.py publish --events 50000 --tuned-broker
  .venv/bin/python bench/mqtt_bench.py publish --events 20000 --tuned-broker --profiles titan,async-aas
  .venv/bin/python bench/mqtt_bench.py rest --rate 5000 --rest-rate 300 --seconds 10 --tuned-broker --titan-cpus 0
  .venv/bin/python bench/mqtt_bench.py writeback --events 10000 --tuned-broker
Each prints one JSON line. Topics live under a random prefix; nothing is retained. --tuned-broker
starts a throwaway Mosquitto configured as docs/mqtt.md recommends; without it the broker is --url
(default the shared one on 127.0.0.1:1883, whatever its configuration). --titan-cpus 0 keeps Titan on
CPU 0 and starts the throwaway broker, the load generator, the subscriber, the device and the
separate publisher on the other CPUs, as if they ran on other hosts: on a small machine they
otherwise compete with Titan for its cores. The load generator then runs at real-time priority
(where allowed): it times the requests, and waiting behind the broker for its CPU would show up as
REST latency (with the sink in another process and Titan serving REST alone: +94% at normal
priority, -2.3% at real-time priority; docs/performance.md).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import logging
import os
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiomqtt
import titan_plugin_mqtt.plugin
from aiohttp import web
from openloop import schedule_open_loop
from titan_plugin_mqtt.config import MqttConfig
from titan_plugin_mqtt.plugin import PLUGIN
from titan_plugin_mqtt.publisher import EventPublisher
from titan_plugin_mqtt.sink import MqttSink, MqttStats

from titan_core.app import create_app
from titan_core.auth import ANONYMOUS
from titan_core.delivery.bus import MemoryBus, OutgoingEvent
from titan_core.delivery.profiles import AsyncAasOptions
from titan_core.delivery.runner import SinkRunner
from titan_core.delivery.sink import Event
from titan_core.delivery.stored_elements import StoredElements
from titan_core.gc_tuning import tune_for_serving
from titan_core.keys import BUS, REPOSITORY
from titan_core.model.identifiers import encode_identifier
from titan_core.model.paths import parse_id_short_path
from titan_core.plugins import get_plugin_manager
from titan_core.settings import Settings

SUBMODELS = 20
# Every client of the benchmark sends its small packets (PUBACKs) at once, as Titan's connection does.
NODELAY = (socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
VALUE_PATH = parse_id_short_path("Value")


def _submodel_id(index: int) -> str:
    return f"urn:bench:mqtt:sm:{index}"


def _submodel(index: int) -> dict[str, Any]:
    return {
        "modelType": "Submodel",
        "id": _submodel_id(index),
        "submodelElements": [
            {"modelType": "Property", "idShort": "Value", "valueType": "xs:int", "value": "-1"}
        ],
    }


def _percentiles(values_ms: list[float]) -> dict[str, float]:
    ordered = sorted(values_ms)
    if not ordered:
        return {}

    def at(share: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(len(ordered) * share))], 2)

    return {"p50_ms": at(0.5), "p90_ms": at(0.9), "p99_ms": at(0.99), "max_ms": round(ordered[-1], 2),
            "mean_ms": round(statistics.fmean(ordered), 2)}  # fmt: skip


# --------------------------------------------------------------------------- helper processes


class Subscriber:
    """`mqtt_bench.py _subscribe` in its own process: records (arrival time, key) per message."""

    def __init__(self, url: str, topic: str, count: int, key: str, timeout: float, qos: int = 1) -> None:
        self.output = Path(tempfile.mkstemp(prefix="titan-mqtt-bench-", suffix=".json")[1])
        self.process = subprocess.Popen(
            helper_command([sys.executable, __file__, "_subscribe", "--url", url, "--topic", topic,
             "--events", str(count), "--key", key, "--timeout", str(timeout), "--out", str(self.output),
             "--qos", str(qos)]),
            stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        assert line.strip() == "ready", f"subscriber did not start: {line!r}"

    def result(self) -> list[tuple[float, Any]]:
        """(arrival time, key) of each message, in arrival order."""
        self.process.wait(timeout=600)
        data: list[tuple[float, Any]] = [tuple(item) for item in json.loads(self.output.read_text())]
        self.output.unlink(missing_ok=True)
        return data


async def _subscribe(url: str, topic: str, count: int, key: str, timeout: float, out: Path, qos: int) -> None:
    parts = urlsplit(url)
    arrivals: list[tuple[float, Any]] = []
    async with aiomqtt.Client(parts.hostname or "127.0.0.1", parts.port or 1883, protocol=aiomqtt.ProtocolVersion.V5,
                              socket_options=[NODELAY]) as client:  # fmt: skip
        await client.subscribe(topic, qos=qos)
        print("ready", flush=True)
        deadline = time.monotonic() + timeout
        try:
            async with asyncio.timeout(max(0.0, deadline - time.monotonic())):
                async for message in client.messages:
                    now = time.time()
                    payload = message.payload if isinstance(message.payload, bytes) else b""
                    value = json.loads(payload)[key] if key != "-" else None
                    arrivals.append((now, value))
                    if len(arrivals) >= count:
                        break
        except TimeoutError:
            pass
    out.write_text(json.dumps(arrivals))


async def _device(url: str, prefix: str, count: int) -> None:
    """Publish `count` values at QoS 1 as fast as the broker takes them, round-robin over the elements."""
    parts = urlsplit(url)
    async with aiomqtt.Client(
        parts.hostname or "127.0.0.1",
        parts.port or 1883,
        max_inflight_messages=1000,
        socket_options=[NODELAY],
    ) as client:
        topics = [
            f"{prefix}/element/{encode_identifier(_submodel_id(i))}/Value/value" for i in range(SUBMODELS)
        ]
        client.pending_calls_threshold = 10_000
        started = time.time()
        pending = [client.publish(topics[value % SUBMODELS], str(value), qos=1) for value in range(count)]
        for start in range(0, count, 1000):
            await asyncio.gather(*pending[start : start + 1000])
        print(json.dumps({"first_publish": started, "last_ack": time.time()}), flush=True)


# --------------------------------------------------------------------------- Titan in process


async def _start_titan(database_url: str, mqtt: dict[str, Any]) -> tuple[web.AppRunner, web.Application]:
    settings = Settings(database_url=database_url, relay_poll_ms=50, extra={"mqtt": mqtt})
    manager = get_plugin_manager(settings, load_entry_points=False)
    manager.add_plugin(titan_plugin_mqtt.plugin, "mqtt")
    app = create_app(settings, plugin_manager=manager)
    tune_for_serving()  # as `titan serve` does
    runner = web.AppRunner(app)
    await runner.setup()  # runs the cleanup contexts: database, MQTT connection, event pipeline
    plugin = app[PLUGIN]
    assert plugin is not None
    await plugin.connection.wait_connected(10)
    await plugin.publisher.wait_connected(10)
    repository = app[REPOSITORY]
    for index in range(SUBMODELS):
        await repository.put(
            "submodel", _submodel_id(index), _submodel(index), origin="load", principal=ANONYMOUS
        )
    await asyncio.sleep(0.5)  # their `created` events are out
    return runner, app


async def measure_latency(
    url: str, database_url: str, rate: float, seconds: float, nodelay: bool, subscriber_qos: int
) -> dict[str, Any]:
    prefix = f"bench-{secrets.token_hex(4)}"
    runner, app = await _start_titan(database_url, {"url": url, "prefix": prefix, "tcp_nodelay": nodelay})
    repository = app[REPOSITORY]
    total = int(rate * seconds)
    subscriber = Subscriber(url, f"{prefix}/element/#", total, "data", seconds + 30, subscriber_qos)
    committed: dict[int, float] = {}
    try:

        async def write(value: int) -> None:
            await repository.set_element_value(
                _submodel_id(value % SUBMODELS), VALUE_PATH, value, origin="rest", principal=ANONYMOUS
            )
            committed[value] = time.time()

        cpu_start = time.process_time()
        await schedule_open_loop(rate, total, write)
        arrivals = await asyncio.to_thread(subscriber.result)
        cpu = time.process_time() - cpu_start
    finally:
        await runner.cleanup()
    latencies = [(arrived - committed[value]) * 1000 for arrived, value in arrivals if value in committed]
    return {"writes": total, "received": len(latencies), "rate_per_s": rate, "titan_tcp_nodelay": nodelay,
            "subscriber_qos": subscriber_qos, "titan_cpu_percent": round(100 * cpu / seconds),
            **_percentiles(latencies)}  # fmt: skip


def _envelope(seq: int) -> bytes:
    submodel_id = _submodel_id(seq % SUBMODELS)
    envelope = {
        "specversion": "1.0", "titanseq": str(seq), "id": f"0193a1b2-7c3d-7e4f-8a9b-{seq:012d}",
        "type": "io.admin-shell.events.v1.valueChanged",
        "source": f"/submodels/{encode_identifier(submodel_id)}/submodel-elements/Value",
        "time": "2026-11-27T05:25:48.123456Z", "datacontenttype": "application/json",
        "titanentity": "element", "titanid": submodel_id, "titanpath": "Value", "titanorigin": "rest",
        "semanticid": "0173-1#02-AAO677#002", "data": seq,
    }  # fmt: skip
    return json.dumps(envelope, separators=(",", ":")).encode()


# The element each benchmark valueChanged is about, as the outbox would store it.
_BENCH_ELEMENT = {
    "modelType": "Property", "idShort": "Value", "valueType": "xs:int", "value": "0",
    "semanticId": {"type": "ExternalReference", "keys": [{"type": "GlobalReference", "value": "0173-1#02-AAO677#002"}]},
}  # fmt: skip


class _ElementsInMemory(StoredElements):
    """The stored element of every benchmark event, without a database: `publish --profiles` measures
    the CPU of building and publishing the profiles' messages, not the outbox read (one indexed
    query per batch of valueChanged events, done by the database, not by Titan)."""

    def __init__(self) -> None:  # no database
        pass

    async def of(self, events: Sequence[Event]) -> dict[int, dict[str, Any]]:
        return {event.titanseq: {**_BENCH_ELEMENT, "value": str(event.titanseq)} for event in events}


async def measure_publish(
    url: str, events: int, qos: int, batch: int, protocol: str, profiles: str = "titan"
) -> dict[str, Any]:
    prefix = f"bench-{secrets.token_hex(4)}"
    config = MqttConfig.from_section(
        {"url": url, "prefix": prefix, "qos": str(qos), "protocol": protocol, "batch_size": str(batch),
         "profiles": profiles, "async_aas_topic": f"{prefix}-ce", "basyx_aas_repo": f"{prefix}-aas",
         "basyx_sm_repo": f"{prefix}-sm"}
    )  # fmt: skip
    stats = MqttStats()

    connection = EventPublisher(config)
    async_aas = (
        AsyncAasOptions(base_url="https://twins.example.com") if "async-aas" in config.profiles else None
    )
    memory = _ElementsInMemory()
    sink = MqttSink(
        config, connection, stats, publish_timeout=5, async_aas=async_aas, elements=lambda: memory
    )
    bus = MemoryBus(retention=events + 10, backlog_limit=events + 10)
    runner = SinkRunner(
        bus, [sink], batch_size=100, timeout_s=10, retry_max_s=1
    )  # the sink's own batch_size wins
    prepared = [OutgoingEvent(seq, _envelope(seq)) for seq in range(1, events + 1)]
    connection.start()
    await connection.wait_connected(10)
    await runner.start()
    # QoS 0: a Python subscriber is slower than Titan, and Mosquitto drops QoS 1 messages it cannot
    # queue for a slow subscriber (max_queued_messages); at QoS 0 they wait in its socket buffers.
    subscriber = Subscriber(url, f"{prefix}/element/#", events, "-", 120, qos=0)
    try:
        started = time.time()
        cpu_start = time.process_time()
        for start in range(0, events, 500):  # as the relay does: a few hundred rows per publish
            await bus.publish(prepared[start : start + 500])
            await asyncio.sleep(0)
        while stats.events_published < events:
            await asyncio.sleep(0.002)
        acknowledged = time.time()
        cpu = time.process_time() - cpu_start
        arrivals = await asyncio.to_thread(subscriber.result)
    finally:
        await runner.stop()
        await connection.stop()
    received_last = max((arrived for arrived, _ in arrivals), default=float("nan"))
    return {
        "events": events, "qos": qos, "sink_batch": batch, "protocol": protocol,
        "acknowledged_per_s": round(events / (acknowledged - started)),
        "received": len(arrivals), "received_per_s": round(len(arrivals) / (received_last - started)),
        "titan_cpu_seconds": round(cpu, 2), "profiles": list(config.profiles),
        "titan_cpu_us_per_event": round(1e6 * cpu / events, 1),
    }  # fmt: skip


async def _openloop(url: str, rate: float, seconds: float) -> dict[str, Any]:
    process = await asyncio.create_subprocess_exec(
        *helper_command([sys.executable], load_generator=True), str(Path(__file__).with_name("openloop.py")),
        url, "--rate", str(rate),
        "--duration", str(seconds), "--warmup", "1", "--connections", "16", "--json",
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    output, _ = await process.communicate()
    result: dict[str, Any] = json.loads(output)
    return result


async def measure_rest(
    url: str,
    database_url: str,
    rate: float,
    rest_rate: float,
    seconds: float,
    *,
    separate: bool = False,
    rounds: int = 5,
) -> dict[str, Any]:
    prefix = f"bench-{secrets.token_hex(4)}"
    mqtt = {} if separate else {"mqtt": {"url": url, "prefix": prefix}}
    settings = Settings(database_url=database_url, relay_paused=True, extra=mqtt)
    manager = get_plugin_manager(settings, load_entry_points=False)
    if not separate:
        manager.add_plugin(titan_plugin_mqtt.plugin, "mqtt")
    app = create_app(settings, plugin_manager=manager)
    runner, target = await serve_rest(app)
    if separate:
        try:
            return await _rest_beside_a_publisher_process(url, target, rate, rest_rate, seconds, rounds)
        finally:
            await runner.cleanup()
    plugin = app[PLUGIN]
    assert plugin is not None
    await plugin.connection.wait_connected(10)
    await plugin.publisher.wait_connected(10)
    bus = app[BUS]
    # Built before the clock starts: the benchmark measures publishing, not making up events.
    first = bus.head() + 1
    prepared = [
        OutgoingEvent(seq, _envelope(seq)) for seq in range(first, first + int(rate * seconds * rounds * 1.2))
    ]
    gc.collect()
    gc.freeze()  # the made-up events are the benchmark's, not Titan's: the collector need not scan them
    injected = 0

    async def inject(stop: asyncio.Event) -> None:
        nonlocal injected
        # Every 5 ms, as the relay publishes what committed (its rounds are at least 2 ms apart).
        started, step, start_count = time.perf_counter(), 0.005, injected
        while not stop.is_set() and injected < len(prepared):
            due = min(start_count + int((time.perf_counter() - started) * rate), len(prepared)) - injected
            if due > 0:
                await bus.publish(prepared[injected : injected + due])
                injected += due
            await asyncio.sleep(step)

    async def watch_loop(stop: asyncio.Event, lags: list[float]) -> None:
        """How late a 1 ms timer fires: the time the loop spent on something else."""
        while not stop.is_set():
            before = time.perf_counter()
            await asyncio.sleep(0.001)
            lags.append((time.perf_counter() - before - 0.001) * 1000)

    async def phase(publishing: bool) -> dict[str, Any]:
        stop = asyncio.Event()
        injector = asyncio.create_task(inject(stop)) if publishing else None
        lags: list[float] = []
        watcher = asyncio.create_task(watch_loop(stop, lags))
        published_before = plugin.stats.events_published
        started, cpu_start = time.perf_counter(), time.process_time()
        result = await _openloop(target, rest_rate, seconds)
        elapsed = time.perf_counter() - started
        result["titan_cpu_percent"] = round(100 * (time.process_time() - cpu_start) / elapsed)
        result["events_published_per_s"] = round((plugin.stats.events_published - published_before) / elapsed)
        stop.set()
        if injector is not None:
            await injector
        await watcher
        result["loop_lag_ms"] = _percentiles(lags)
        return result

    try:
        quiet, busy = await alternate(phase, rounds)
    finally:
        await runner.cleanup()
    return _summary(rest_rate, rate, rounds, seconds, quiet, busy)


async def alternate(
    phase: Callable[[bool], Awaitable[dict[str, Any]]], rounds: int
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """`rounds` quiet phases and publishing phases, alternating: a busy machine's drift hits both
    sides alike, and the median of the rounds' p99 is far steadier than one run's (30 samples decide
    a p99 of 3,000 requests)."""
    quiet: list[dict[str, Any]] = []
    busy: list[dict[str, Any]] = []
    for _ in range(rounds):
        quiet.append(await phase(False))
        busy.append(await phase(True))
    return quiet, busy


def wait_started(process: subprocess.Popen[bytes], ready: Callable[[], bool], what: str) -> None:
    """Wait up to 10 s for a throwaway server process to answer."""
    deadline = time.monotonic() + 10
    while not ready():
        if time.monotonic() > deadline or process.poll() is not None:
            raise RuntimeError(f"{what} did not start")
        time.sleep(0.05)


async def serve_rest(app: web.Application) -> tuple[web.AppRunner, str]:
    """Serve `app` on a free port with the GC settings of `titan serve`, one submodel stored;
    returns the runner and the URL of that submodel (what the open-loop load GETs)."""
    tune_for_serving()
    runner = web.AppRunner(app)
    await runner.setup()
    port = _free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    await app[REPOSITORY].put("submodel", _submodel_id(0), _submodel(0), origin="load", principal=ANONYMOUS)
    return runner, f"http://127.0.0.1:{port}/submodels/{encode_identifier(_submodel_id(0))}"


def _summary(
    rest_rate: float,
    rate: float,
    rounds: int,
    seconds: float,
    quiet: list[dict[str, Any]],
    busy: list[dict[str, Any]],
) -> dict[str, Any]:
    """Both sides' p99 per round, and the change of the median p99 (the verdict)."""
    quiet_p99 = statistics.median(r["p99_ms"] for r in quiet)
    busy_p99 = statistics.median(r["p99_ms"] for r in busy)
    result: dict[str, Any] = {
        "rest_rate": rest_rate, "event_rate": rate, "rounds": rounds, "seconds_per_phase": seconds,
        "quiet_p99_ms": [round(r["p99_ms"], 2) for r in quiet],
        "publishing_p99_ms": [round(r["p99_ms"], 2) for r in busy],
        "quiet_p50_ms": round(statistics.median(r["p50_ms"] for r in quiet), 2),
        "publishing_p50_ms": round(statistics.median(r["p50_ms"] for r in busy), 2),
        "median_quiet_p99_ms": round(quiet_p99, 2), "median_publishing_p99_ms": round(busy_p99, 2),
        "p99_change_percent": round(100 * (busy_p99 / quiet_p99 - 1), 1),
        "errors": sum(r["errors"] for r in quiet + busy),
        "events_published_per_s": [r["events_published_per_s"] for r in busy],
    }  # fmt: skip
    if "loop_lag_ms" in quiet[0]:  # measured in this process: Titan is in it
        for key, label in (("titan_cpu_percent", "titan_cpu_percent"), ("loop_lag_ms", "loop_lag")):
            for stat in ("",) if key == "titan_cpu_percent" else ("p99_ms", "max_ms"):
                name = label if not stat else f"{label}_{stat}"
                result[name] = {
                    side: [r[key][stat] if stat else r[key] for r in runs]
                    for side, runs in (("quiet", quiet), ("publishing", busy))
                }
    return result


async def _rest_beside_a_publisher_process(
    url: str, target: str, rate: float, rest_rate: float, seconds: float, rounds: int
) -> dict[str, Any]:
    """The REST app without the MQTT plugin; the MQTT sink publishing in a process of its own, as a
    Titan instance that serves no REST traffic would (docs/mqtt.md, "Keeping MQTT off the REST
    instances"). Each publishing phase starts the publisher afresh."""

    async def phase(publishing: bool) -> dict[str, Any]:
        if not publishing:
            return await _openloop(target, rest_rate, seconds)
        # With --titan-cpus, on the helpers' CPUs: an MQTT instance would have cores of its own.
        publisher = await asyncio.create_subprocess_exec(
            *helper_command([sys.executable]), __file__, "_publisher", "--url", url, "--rate", str(rate),
            "--seconds", str(seconds + 2), stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        assert publisher.stdout is not None
        assert (await publisher.stdout.readline()).strip() == b"connected"
        await asyncio.sleep(1.0)  # publishing at its rate before the measurement starts
        result = await _openloop(target, rest_rate, seconds)
        output, _ = await publisher.communicate()
        result["events_published_per_s"] = json.loads(output)["per_s"]
        return result

    quiet, busy = await alternate(phase, rounds)
    return {"publisher": "separate process", **_summary(rest_rate, rate, rounds, seconds, quiet, busy)}


async def _publisher(url: str, rate: float, seconds: float) -> None:
    """`mqtt_bench.py _publisher`: the MQTT sink fed at `rate` events/s from a memory bus."""
    tune_for_serving()
    config = MqttConfig.from_section({"url": url, "prefix": f"bench-{secrets.token_hex(4)}"})
    stats = MqttStats()

    connection = EventPublisher(config)
    sink = MqttSink(config, connection, stats, publish_timeout=5)
    bus = MemoryBus(retention=10_000, backlog_limit=1_000_000)
    runner = SinkRunner(bus, [sink], batch_size=100, timeout_s=10, retry_max_s=1)
    connection.start()
    await connection.wait_connected(10)
    await runner.start()
    print("connected", flush=True)
    injected, started = 0, time.perf_counter()
    try:
        while time.perf_counter() - started < seconds:
            due = int((time.perf_counter() - started) * rate) - injected
            if due > 0:
                await bus.publish(
                    [OutgoingEvent(injected + i, _envelope(injected + i)) for i in range(1, due + 1)]
                )
                injected += due
            await asyncio.sleep(0.02)
    finally:
        await runner.stop()
        await connection.stop()
    print(json.dumps({"published": stats.events_published, "per_s": round(stats.events_published / seconds)}))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def measure_writeback(url: str, database_url: str, events: int) -> dict[str, Any]:
    prefix = f"bench-{secrets.token_hex(4)}"
    runner, app = await _start_titan(database_url, {"url": url, "prefix": prefix})
    plugin = app[PLUGIN]
    assert plugin is not None
    subscriber = Subscriber(url, f"{prefix}/element/+/Value/events", events, "data", 120)
    try:
        cpu_start = time.process_time()
        device = await asyncio.create_subprocess_exec(
            *helper_command([sys.executable]), __file__, "_device", "--url", url, "--prefix", prefix,
            "--events", str(events),
            stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        output, _ = await device.communicate()
        timing = json.loads(output)
        arrivals = await asyncio.to_thread(subscriber.result)
        cpu = time.process_time() - cpu_start
        applied, refused = plugin.stats.writes_applied, sum(plugin.stats.writes_refused.values())
    finally:
        await runner.cleanup()
    last = max((arrived for arrived, _ in arrivals), default=float("nan"))
    elapsed = last - timing["first_publish"]
    return {
        "values": events, "applied": applied, "refused": refused, "republished": len(arrivals),
        "device_publish_s": round(timing["last_ack"] - timing["first_publish"], 2),
        "seconds": round(elapsed, 2), "values_per_s": round(len(arrivals) / elapsed),
        "titan_cpu_seconds": round(cpu, 2),
    }  # fmt: skip


@contextlib.contextmanager
def tuned_mosquitto() -> Iterator[str]:
    """A throwaway Mosquitto with the settings docs/mqtt.md recommends (`set_tcp_nodelay`, a queue
    large enough for a burst); yields its URL. Mosquitto's Debian defaults add the 40 ms Nagle /
    delayed-ACK plateau to the latency this benchmark measures."""
    folder = Path(tempfile.mkdtemp(prefix="titan-bench-mosquitto-"))
    port = _free_port()
    config = folder / "mosquitto.conf"
    config.write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous true\nset_tcp_nodelay true\n"
        "max_queued_messages 100000\nmax_inflight_messages 0\n"
    )
    process = subprocess.Popen(
        helper_command(["mosquitto", "-c", str(config)]), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_started(process, lambda: _accepts(port), f"mosquitto on port {port}")
        yield f"mqtt://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(10)
        shutil.rmtree(folder, ignore_errors=True)


@dataclass
class Isolation:
    """--titan-cpus: Titan on its own CPUs, the helper processes on the others."""

    titan_cpus: set[int]
    helper_cpus: set[int]
    # The load generator at real-time priority (SCHED_FIFO) on the helpers' CPUs: it times every
    # request, so it must not wait there behind the broker. Needs root or CAP_SYS_NICE.
    realtime_load: bool

    def as_dict(self) -> dict[str, Any]:
        return {"titan_cpus": sorted(self.titan_cpus), "helper_cpus": sorted(self.helper_cpus),
                "load_generator": "SCHED_FIFO 50" if self.realtime_load else "normal priority"}  # fmt: skip


_isolation: Isolation | None = None


def helper_command(command: list[str], *, load_generator: bool = False) -> list[str]:
    """`command`, run on the helpers' CPUs when --titan-cpus set them apart (the load generator also
    at real-time priority where allowed)."""
    if _isolation is None:
        return command
    prefix = ["taskset", "-c", ",".join(map(str, sorted(_isolation.helper_cpus)))]
    if load_generator and _isolation.realtime_load:
        prefix += ["chrt", "-f", "50"]
    return [*prefix, *command]


def keep_titan_on(cpus: str) -> None:
    """Pin this process (Titan) to `cpus` ("0" or "0,1"); helpers started later get the rest."""
    global _isolation
    titan = {int(cpu) for cpu in cpus.split(",")}
    others = os.sched_getaffinity(0) - titan
    if not titan <= os.sched_getaffinity(0) or not others:
        raise SystemExit(f"--titan-cpus {cpus}: needs CPUs of this machine and leaves none for the helpers")
    realtime = subprocess.run(["chrt", "-f", "50", "true"], stderr=subprocess.DEVNULL).returncode == 0
    if not realtime:
        print("mqtt_bench: not allowed to run the load generator at real-time priority", file=sys.stderr)
    _isolation = Isolation(titan, others, realtime)
    os.sched_setaffinity(0, titan)


def _accepts(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
    except OSError:
        return False
    return True


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "what", choices=["latency", "publish", "rest", "writeback", "_subscribe", "_device", "_publisher"]
    )
    parser.add_argument("--url", default=os.environ.get("TITAN_TEST_MQTT", "mqtt://127.0.0.1:1883"))
    parser.add_argument(
        "--tuned-broker", action="store_true", help="start a throwaway Mosquitto as docs/mqtt.md recommends"
    )
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--rate", type=float, default=500.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--qos", type=int, default=1)
    parser.add_argument("--protocol", default="5", help="publish: MQTT protocol of Titan's connection")
    parser.add_argument("--rest-rate", type=float, default=300.0, help="rest: open-loop GETs per second")
    parser.add_argument("--rounds", type=int, default=5, help="rest: alternating quiet / publishing phases")
    parser.add_argument("--batch", type=int, default=1000, help="publish: the MQTT sink's batch_size setting")
    parser.add_argument(
        "--profiles", default="titan", help="publish: the MQTT profiles (mqtt.profiles), e.g. titan,async-aas"
    )
    parser.add_argument(
        "--titan-nagle", action="store_true", help="latency: Titan's socket without TCP_NODELAY"
    )
    parser.add_argument("--sub-qos", type=int, default=1, help="latency: the subscriber's QoS")
    parser.add_argument(
        "--separate-publisher",
        action="store_true",
        help="rest: the MQTT sink publishes in a process of its own (a Titan instance without REST traffic)",
    )
    parser.add_argument(
        "--titan-cpus",
        default="",
        help="Titan on these CPUs (e.g. 0), the throwaway broker and the load generator on the others",
    )
    parser.add_argument("--topic", default="")
    parser.add_argument("--prefix", default="")
    parser.add_argument("--key", default="-")
    parser.add_argument("--timeout", type=float, default=60)
    parser.add_argument("--out", default="")
    args = parser.parse_args(argv)
    if args.what == "_subscribe":
        asyncio.run(
            _subscribe(args.url, args.topic, args.events, args.key, args.timeout, Path(args.out), args.qos)
        )
        return 0
    if args.what == "_device":
        asyncio.run(_device(args.url, args.prefix, args.events))
        return 0
    if args.what == "_publisher":
        asyncio.run(_publisher(args.url, args.rate, args.seconds))
        return 0
    if args.titan_cpus:
        keep_titan_on(args.titan_cpus)
    if args.tuned_broker:
        with tuned_mosquitto() as url:
            args.url = url
            return _measure(args)
    return _measure(args)


def _measure(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.WARNING)
    folder = tempfile.mkdtemp(prefix="titan-bench-mqtt-")
    database_url = args.database_url or f"sqlite+aiosqlite:///{folder}/bench.sqlite3"
    if args.what == "latency":
        nodelay = not args.titan_nagle
        result = asyncio.run(
            measure_latency(args.url, database_url, args.rate, args.seconds, nodelay, args.sub_qos)
        )
    elif args.what == "rest":
        result = asyncio.run(
            measure_rest(
                args.url,
                database_url,
                args.rate,
                args.rest_rate,
                args.seconds,
                separate=args.separate_publisher,
                rounds=args.rounds,
            )
        )
    elif args.what == "publish":
        result = asyncio.run(
            measure_publish(args.url, args.events, args.qos, args.batch, args.protocol, args.profiles)
        )
    else:
        result = asyncio.run(measure_writeback(args.url, database_url, args.events))
    load = os.getloadavg()[0]
    if _isolation is not None:
        result["isolation"] = _isolation.as_dict()
    print(json.dumps({"benchmark": args.what, "broker": args.url, "database": database_url.split("@")[-1],
                      "loadavg_1min": round(load, 2), **result}))  # fmt: skip
    for name in ("bench.sqlite3", "bench.sqlite3-wal", "bench.sqlite3-shm"):
        Path(folder, name).unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

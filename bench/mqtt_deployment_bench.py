"""REST beside MQTT publishing in the deployment docs/mqtt.md recommends for it: two Titan instances
on one Redis bus and one database, the MQTT plugin only on the instance that serves no REST.

    REST instance (this process, the MQTT plugin off) <- open-loop GETs (bench/openloop.py)
    MQTT instance (a process: the plugin's `once` sink and event publisher, no REST traffic)
    injector (a process: XADDs --rate events/s into the Redis stream, as a relay would)

Both instances tail the stream, as every Titan instance does (`/events`, resume), so the REST
instance pays for reading the events; the MQTT instance's consumer group publishes them. Phases
alternate, quiet (no injector) and publishing, --rounds times; the verdict is the change of the
median p99, as in `mqtt_bench.py rest`.

Usage (figures in docs/performance.md, "MQTT"):
  .venv/bin/python bench/mqtt_deployment_bench.py --rate 5000 --rest-rate 300 --seconds 8 --rounds 5
Starts its own Mosquitto (configured as docs/mqtt.md recommends) and its own Redis (no persistence),
on free ports; prints one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import titan_plugin_mqtt.plugin
from aiohttp import web
from mqtt_bench import (
    _envelope,
    _free_port,
    _openloop,
    _summary,
    alternate,
    serve_rest,
    tuned_mosquitto,
    wait_started,
)
from titan_plugin_mqtt.plugin import PLUGIN

from titan_core.app import create_app
from titan_core.delivery.bus import OutgoingEvent
from titan_core.delivery.redis_bus import RedisBus
from titan_core.gc_tuning import tune_for_serving
from titan_core.keys import BUS
from titan_core.plugins import get_plugin_manager
from titan_core.settings import Settings


@contextlib.contextmanager
def throwaway_redis() -> Iterator[str]:
    """A private redis-server without persistence on a free port; yields its URL."""
    folder = Path(tempfile.mkdtemp(prefix="titan-bench-redis-"))
    port = _free_port()
    process = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(folder)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        ping = ["redis-cli", "-p", str(port), "ping"]
        wait_started(process, lambda: subprocess.run(ping, capture_output=True).stdout.strip() == b"PONG",
                     f"redis-server on port {port}")  # fmt: skip
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(10)
        shutil.rmtree(folder, ignore_errors=True)


def _settings(database_url: str, redis_url: str, mqtt: dict[str, Any] | None) -> Settings:
    extra = {"mqtt": mqtt} if mqtt else {}
    return Settings(
        database_url=database_url, bus=redis_url, bus_prefix="bench:", relay_paused=True, extra=extra
    )


async def measure(
    mqtt_url: str, redis_url: str, rate: float, rest_rate: float, seconds: float, rounds: int
) -> Any:
    folder = tempfile.mkdtemp(prefix="titan-bench-deployment-")
    database_url = f"sqlite+aiosqlite:///{folder}/bench.sqlite3"
    settings = _settings(database_url, redis_url, None)
    app = create_app(settings, plugin_manager=get_plugin_manager(settings, load_entry_points=False))
    runner, target = await serve_rest(app)
    here = str(Path(__file__))
    mqtt_instance = await asyncio.create_subprocess_exec(
        sys.executable, here, "_mqtt_instance", "--url", mqtt_url, "--redis", redis_url, "--database-url", database_url,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert mqtt_instance.stdout is not None and mqtt_instance.stdin is not None
    assert (await mqtt_instance.stdout.readline()).strip() == b"connected"

    async def phase(publishing: bool) -> dict[str, Any]:
        injector = None
        if publishing:
            injector = await asyncio.create_subprocess_exec(
                sys.executable, here, "_inject", "--redis", redis_url, "--rate", str(rate),
                "--seconds", str(seconds + 1.5), stdout=asyncio.subprocess.PIPE,
            )  # fmt: skip
            await asyncio.sleep(1.0)  # publishing at its rate before the measurement starts
        started, cpu_start = time.perf_counter(), time.process_time()
        result = await _openloop(target, rest_rate, seconds)
        result["titan_cpu_percent"] = round(
            100 * (time.process_time() - cpu_start) / (time.perf_counter() - started)
        )
        # Injected per second here; what the MQTT instance published is counted at the end.
        result["events_published_per_s"] = 0
        if injector is not None:
            output, _ = await injector.communicate()
            result["events_published_per_s"] = json.loads(output)["per_s"]
        return result

    try:
        quiet, busy = await alternate(phase, rounds)
        await asyncio.sleep(2.0)  # the MQTT instance catches up with the last phase
    finally:
        mqtt_instance.stdin.close()
        output, _ = await mqtt_instance.communicate()
        await runner.cleanup()
        shutil.rmtree(folder, ignore_errors=True)
    published = json.loads(output)
    summary = _summary(rest_rate, rate, rounds, seconds, quiet, busy)
    summary["events_injected_per_s"] = summary.pop("events_published_per_s")
    summary["events_injected"] = published["injected"]
    summary["events_published_by_the_mqtt_instance"] = published["published"]
    summary["rest_instance_cpu_percent"] = {
        "quiet": [r["titan_cpu_percent"] for r in quiet], "publishing": [r["titan_cpu_percent"] for r in busy]
    }  # fmt: skip
    summary.pop("titan_cpu_percent", None)
    summary.pop("loop_lag_p99_ms", None)
    summary.pop("loop_lag_max_ms", None)
    return {"deployment": "REST instance + MQTT instance, Redis bus", **summary}


async def _mqtt_instance(mqtt_url: str, redis_url: str, database_url: str) -> None:
    """The instance with the MQTT plugin: its sinks run, nothing listens for HTTP."""
    settings = _settings(
        database_url, redis_url, {"url": mqtt_url, "prefix": f"bench-{secrets.token_hex(4)}"}
    )
    manager = get_plugin_manager(settings, load_entry_points=False)
    manager.add_plugin(titan_plugin_mqtt.plugin, "mqtt")
    app = create_app(settings, plugin_manager=manager)
    tune_for_serving()
    runner = web.AppRunner(app)
    await runner.setup()
    plugin = app[PLUGIN]
    assert plugin is not None
    await plugin.publisher.wait_connected(10)
    print("connected", flush=True)
    # Until the benchmark closes stdin.
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    published = plugin.stats.events_published
    head = await app[BUS].published_head()
    await runner.cleanup()
    print(json.dumps({"published": published, "injected": head}))


async def _inject(redis_url: str, rate: float, seconds: float) -> None:
    """XADD `rate` events per second for `seconds`, every 5 ms, as a relay publishes."""
    bus = RedisBus(redis_url, prefix="bench:", retention=10_000, backlog_limit=1_000_000, lease_ms=1000,
                   instance_id=f"bench-injector-{os.getpid()}")  # fmt: skip
    first = await bus.published_head() + 1
    prepared = [OutgoingEvent(seq, _envelope(seq)) for seq in range(first, first + int(rate * seconds) + 1)]
    injected, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds and injected < len(prepared):
        due = min(int((time.perf_counter() - started) * rate), len(prepared)) - injected
        if due > 0:
            await bus.publish(prepared[injected : injected + due])
            injected += due
        await asyncio.sleep(0.005)
    await bus.client.aclose()
    print(json.dumps({"injected": injected, "per_s": round(injected / (time.perf_counter() - started))}))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "what", nargs="?", default="measure", choices=["measure", "_mqtt_instance", "_inject"]
    )
    parser.add_argument("--url", default="")
    parser.add_argument("--redis", default="")
    parser.add_argument("--database-url", default="")
    parser.add_argument("--rate", type=float, default=5000.0)
    parser.add_argument("--rest-rate", type=float, default=300.0)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    if args.what == "_mqtt_instance":
        asyncio.run(_mqtt_instance(args.url, args.redis, args.database_url))
        return 0
    if args.what == "_inject":
        asyncio.run(_inject(args.redis, args.rate, args.seconds))
        return 0
    with tuned_mosquitto() as mqtt_url, throwaway_redis() as redis_url:
        result = asyncio.run(
            measure(mqtt_url, redis_url, args.rate, args.rest_rate, args.seconds, args.rounds)
        )
    print(
        json.dumps(
            {"benchmark": "rest beside an MQTT instance", "loadavg_1min": os.getloadavg()[0], **result}
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

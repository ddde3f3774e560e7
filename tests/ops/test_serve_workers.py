"""`titan serve --workers 2` with real processes on PostgreSQL and Redis: one port served by two
worker processes, events across workers, SIGTERM, a killed worker restarted, and the refusals."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.support.in_flight import stop_with_a_request_in_flight
from tests.support.live_server import LiveServer, launch_serve, server_environment, wait_until_ready
from tests.support.proc_sockets import connections_by_pid, parent_of, process_gone, server_of
from tests.support.services import LOOPBACK, free_port, wait_until
from titan_core.settings import Settings

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

# How long the parent waits for stopping workers before it kills them (the default settings).
STOP_GRACE_S = Settings().stop_timeout

WORKER_LINE = re.compile(r"worker (\d+) of (\d+) \(pid (\d+)\) serving on")
SUBMODEL_ID = "https://example.com/ids/sm/workers"
# Short leases, as in tests/cluster: a killed worker's relay lease passes on within seconds.
FAST_LEASES = {"TITAN_RELAY_LEASE_MS": "2000", "TITAN_SINK_LEASE_MS": "2000"}


class Workers:
    """One `titan serve --workers 2` parent and what its log says about its workers."""

    def __init__(self, server: LiveServer) -> None:
        self.server = server

    @property
    def port(self) -> int:
        return self.server.port

    def announced(self) -> list[tuple[int, int]]:
        """(worker index, pid) of every "worker … serving on" line so far, in order."""
        return [(int(m.group(1)), int(m.group(3))) for m in WORKER_LINE.finditer(self.server.log())]

    def pids(self) -> dict[int, int]:
        """Worker index -> pid of its newest start."""
        return dict(self.announced())

    def live_pids(self) -> list[int]:
        return [pid for pid in self.pids().values() if not process_gone(pid)]


def _health(port: int) -> int:
    """GET /health on a new connection (urllib opens one per request); the status."""
    with urllib.request.urlopen(f"http://{LOOPBACK}:{port}/health", timeout=5) as reply:
        return int(reply.status)


@pytest.fixture
def start_workers(
    make_postgres_database: Any, redis_url: str, redis_prefix: str, tmp_path: Path
) -> Iterator[Any]:
    """Starts `titan serve --workers 2` on a new database and the Redis key prefix of this test;
    returns once both workers announced themselves and the port answers. Stopped afterwards, and
    every worker it ever started is checked gone (SIGKILLed by pid if not)."""
    started: list[Workers] = []

    def start(extra_env: dict[str, str] | None = None, args: tuple[str, ...] = ()) -> Workers:
        port = free_port()
        argv = [sys.executable, "-m", "titan_core", "serve", "--host", LOOPBACK, "--port", str(port),
                "--database-url", make_postgres_database(), "--workers", "2", *args]  # fmt: skip
        env = {"TITAN_BUS": redis_url, "TITAN_BUS_PREFIX": redis_prefix, **FAST_LEASES, **(extra_env or {})}
        server = launch_serve(argv, port, log_path=tmp_path / f"workers-{port}.log", cwd=tmp_path,
                              env=server_environment(env))  # fmt: skip
        workers = Workers(server)
        started.append(workers)

        def ready() -> bool:
            return len(workers.pids()) == 2 and _health(port) == 200

        wait_until_ready(server, ready, timeout=90, what=f"both workers announced and port {port} answering")
        return workers

    yield start
    for workers in started:
        workers.server.stop(grace=STOP_GRACE_S + 10)
        leftovers = [pid for _, pid in workers.announced() if not process_gone(pid)]
        for pid in leftovers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        print(workers.server.log_tail(120))
        assert not leftovers, f"workers still running after the parent stopped: {leftovers}"


def test_two_workers_serve_one_port_from_two_processes(start_workers: Any) -> None:
    workers = start_workers()
    pids = workers.pids()
    assert sorted(pids) == [1, 2]
    assert len(set(pids.values())) == 2
    assert all(parent_of(pid) == workers.server.process.pid for pid in pids.values()), pids
    assert "2 workers serving on http://127.0.0.1:" in workers.server.log()

    # 40 new connections, each left open: the parent hands them to the workers in turn, 20 each
    # (SO_REUSEPORT's hash split 16 connections 10/6 in the registry bench; titan_core/handoff.py).
    clients = []
    try:
        for _ in range(40):
            client = socket.create_connection((LOOPBACK, workers.port), timeout=5)
            clients.append(client)
            client.sendall(f"GET /health HTTP/1.1\r\nHost: {LOOPBACK}:{workers.port}\r\n\r\n".encode())
            assert client.recv(4096).startswith(b"HTTP/1.1 200"), "a connection was not answered 200"
        held = connections_by_pid(list(pids.values()), workers.port)
        ours = {client.getsockname()[1] for client in clients}
        served = {pid: len(ports & ours) for pid, ports in held.items()}
        assert sorted(served.values()) == [20, 20], f"connections per worker pid: {served}"
    finally:
        for client in clients:
            client.close()


def test_the_parent_loads_the_demo_once_and_each_worker_has_its_own_mqtt_client_id(
    start_workers: Any, mqtt_url: str, mqtt_topic_prefix: str
) -> None:
    fixed = f"{mqtt_topic_prefix}-fixed"
    workers = start_workers(
        {"TITAN_MQTT_URL": mqtt_url, "TITAN_MQTT_PREFIX": mqtt_topic_prefix, "TITAN_MQTT_CLIENT_ID": fixed},
        args=("--demo",),
    )
    log = workers.server.log()
    demo_lines = [line for line in log.splitlines() if "--demo:" in line]
    assert len(demo_lines) == 1 and "loaded the demo twin" in demo_lines[0], demo_lines
    assert log.index("--demo:") < log.index("worker 1 of 2"), "the demo was loaded after a worker started"
    assert log.count("database schema is current") == 1, "migrated more than once"

    # The same fixed client id in two workers: the broker would drop one whenever the other connects.
    def both_connected() -> bool:
        ids = set(re.findall(r"is up \([^)]*client id (\S+),", workers.server.log()))
        return {f"{fixed}-w1", f"{fixed}-w2"} <= ids

    wait_until(both_connected, timeout=30, what="both workers' MQTT write-back connections up",
               diagnostics=workers.server.log_tail)  # fmt: skip
    assert f"client id {fixed}," not in workers.server.log()


def test_a_request_in_flight_gets_half_the_stop_timeout_and_its_worker_stops_unkilled(
    start_workers: Any,
) -> None:
    # aiohttp's own default waits 60 s for requests in flight: the parent killed such a worker when
    # its 30 s were up, so the worker's shutdown (sink hand-over, relay, pools) never ran.
    stop_timeout = 12  # 6 s for the request, 6 s for the shutdown: room on a busy machine
    workers = start_workers({"TITAN_STOP_TIMEOUT": str(stop_timeout)})
    code, took = stop_with_a_request_in_flight(workers.server.process, LOOPBACK, workers.port, deadline=60,
                                               diagnostics=workers.server.log_tail)  # fmt: skip
    assert code == 0, workers.server.log_tail()
    assert "killing it" not in workers.server.log(), workers.server.log_tail()
    assert "all 2 workers stopped" in workers.server.log(), workers.server.log_tail()
    # A lower bound (a slow machine only makes it larger): the request was waited for.
    assert took >= stop_timeout / 2, f"stopped after {took:.1f} s, without waiting for the request"


def test_a_parent_killed_with_sigkill_takes_its_workers_with_it(start_workers: Any) -> None:
    workers = start_workers()
    pids = list(workers.pids().values())
    assert len(pids) == 2 and not any(process_gone(pid) for pid in pids), pids
    workers.server.kill()
    wait_until(lambda: all(process_gone(pid) for pid in pids), timeout=STOP_GRACE_S + 10,
               what=f"workers {pids} gone after their parent was SIGKILLed")  # fmt: skip


async def _websocket_on(port: int, worker_pid: int, pids: list[int], session: aiohttp.ClientSession) -> Any:
    """A subscribed /ws/events client whose connection worker `worker_pid` serves (new connections
    until the kernel hands one to it)."""
    for _ in range(60):
        socket_ = await session.ws_connect(f"ws://{LOOPBACK}:{port}/ws/events")
        client_port = socket_.get_extra_info("sockname")[1]
        if server_of(client_port, pids, port) == worker_pid:
            await socket_.send_json({"type": "subscribe", "id": "s1", "filter": {}})
            async with asyncio.timeout(10):
                while (await socket_.receive_json()).get("type") != "subscribed":
                    pass
            return socket_
        await socket_.close()
    raise AssertionError(f"60 new WebSocket connections and none went to worker pid {worker_pid}")


async def _post_and_tell_worker(port: int, path: str, body: Any, pids: list[int]) -> tuple[int, int | None]:
    """POST `body` as JSON on a new connection; its status and the pid of the worker that served it
    (looked up while the connection is still open)."""
    reader, writer = await asyncio.open_connection(LOOPBACK, port)
    try:
        payload = json.dumps(body).encode()
        writer.write(f"POST {path} HTTP/1.1\r\nHost: {LOOPBACK}:{port}\r\nContent-Type: application/json\r\n"
                     f"Content-Length: {len(payload)}\r\n\r\n".encode() + payload)  # fmt: skip
        async with asyncio.timeout(10):
            status_line = await reader.readline()
        served_by = server_of(writer.get_extra_info("sockname")[1], pids, port)
        return int(status_line.split()[1]), served_by
    finally:
        writer.close()


async def _next_event_of(socket_: Any, identifier: str) -> dict[str, Any]:
    while True:
        message = await socket_.receive_json()
        if message.get("type") == "event" and message["event"].get("titanid") == identifier:
            return dict(message["event"])


async def test_an_event_of_one_workers_write_reaches_the_websocket_clients_of_every_worker(
    start_workers: Any,
) -> None:
    workers = start_workers()
    pids = list(workers.pids().values())
    connector = aiohttp.TCPConnector(force_close=True)  # every request a new connection
    async with aiohttp.ClientSession(connector=connector) as session:
        clients = {pid: await _websocket_on(workers.port, pid, pids, session) for pid in pids}
        document = {"modelType": "Submodel", "id": SUBMODEL_ID, "idShort": "Workers"}
        status, writer = await _post_and_tell_worker(workers.port, "/submodels", document, pids)
        assert status == 201
        assert writer in pids, "could not tell which worker served the write"
        # Every worker's client, not only the other one's: whichever worker holds the relay lease
        # sees the event even without a shared bus, so only both together prove the bus carries it.
        for pid, client in clients.items():
            try:
                async with asyncio.timeout(15):
                    event = await _next_event_of(client, SUBMODEL_ID)
            except TimeoutError:
                raise AssertionError(
                    f"the write served by worker pid {writer} sent no event within 15 s to the WebSocket "
                    f"client of worker pid {pid}\n{workers.server.log_tail()}"
                ) from None
            assert "created" in str(event["type"]), event
        for client in clients.values():
            await client.close()


def test_sigterm_stops_the_parent_and_every_worker_within_the_deadline(start_workers: Any) -> None:
    workers = start_workers()
    pids = list(workers.pids().values())
    # A WebSocket client stays connected: stopping must not wait for it to leave.
    client = socket.create_connection((LOOPBACK, workers.port), timeout=5)
    client.sendall(
        f"GET /ws/events HTTP/1.1\r\nHost: {LOOPBACK}:{workers.port}\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    assert client.recv(4096).startswith(b"HTTP/1.1 101"), "the WebSocket handshake failed"
    workers.server.process.send_signal(signal.SIGTERM)
    try:
        code = workers.server.process.wait(timeout=STOP_GRACE_S + 10)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"the parent still runs {STOP_GRACE_S + 10:g} s after SIGTERM\n"
                             f"{workers.server.log_tail()}") from None  # fmt: skip
    finally:
        client.close()
    assert code == 0, workers.server.log_tail()
    assert "killing it" not in workers.server.log(), "the workers were killed, not stopped"
    assert [pid for pid in pids if not process_gone(pid)] == [], "a worker outlived its parent"
    assert "all 2 workers stopped" in workers.server.log()
    with pytest.raises(OSError):
        socket.create_connection((LOOPBACK, workers.port), timeout=2).close()


def test_a_killed_worker_is_restarted_and_the_port_keeps_answering(start_workers: Any) -> None:
    workers = start_workers()
    victim = workers.pids()[1]
    os.kill(victim, signal.SIGKILL)
    wait_until(lambda: process_gone(victim), timeout=10, what=f"worker pid {victim} gone after SIGKILL")
    # Its socket closed with it: every new connection now goes to the other worker.
    statuses = [_health(workers.port) for _ in range(20)]
    assert statuses == [200] * 20, statuses

    wait_until(
        lambda: workers.pids()[1] != victim and not process_gone(workers.pids()[1]),
        timeout=60,
        what="worker 1 restarted and announced",
        diagnostics=workers.server.log_tail,
    )
    log = workers.server.log()
    assert f"worker 1 (pid {victim}) was killed by SIGKILL" in log, log[-3000:]
    assert workers.server.running()
    replacement = workers.pids()[1]
    # The replacement takes connections again.
    clients = []
    try:
        for _ in range(40):
            clients.append(socket.create_connection((LOOPBACK, workers.port), timeout=5))
        ours = {client.getsockname()[1] for client in clients}

        def replacement_serves() -> bool:
            return bool(connections_by_pid([replacement], workers.port)[replacement] & ours)

        wait_until(replacement_serves, timeout=10, what=f"the restarted worker pid {replacement} "
                   "holding one of 40 new connections")  # fmt: skip
    finally:
        for client in clients:
            client.close()


def _serve_refused(
    tmp_path: Path, database_url: str, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "titan_core", "serve", "--port", str(free_port()),
            "--database-url", database_url, "--workers", "2"]  # fmt: skip
    return subprocess.run(argv, cwd=tmp_path, env=server_environment(env), capture_output=True, text=True,
                          timeout=60, check=False)  # fmt: skip


def test_two_workers_on_the_memory_bus_are_refused(tmp_path: Path, make_postgres_database: Any) -> None:
    result = _serve_refused(tmp_path, make_postgres_database(), {})
    assert result.returncode == 2, result.stderr
    assert "needs a shared event bus" in result.stderr
    assert "TITAN_BUS=redis://" in result.stderr


def test_two_workers_on_sqlite_are_refused(tmp_path: Path, redis_url: str) -> None:
    result = _serve_refused(tmp_path, f"sqlite+aiosqlite:///{tmp_path}/t.sqlite3", {"TITAN_BUS": redis_url})
    assert result.returncode == 2, result.stderr
    assert "needs PostgreSQL" in result.stderr
    assert not (tmp_path / "t.sqlite3").exists(), "refused, yet the database file was made"

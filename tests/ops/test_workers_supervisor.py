"""The `--workers` supervisor and its refusals, without a server: real child processes that exit at
once, the settings it refuses with what to change, and the worker index plugins derive identities
from (the MQTT plugin's per-worker client id: tests/mqtt/test_mqtt_worker_client_id.py)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import sys

import pytest

from titan_core import handoff, workers
from titan_core.cli import main
from titan_core.settings import Settings
from titan_core.workers import (
    WORKER_VARIABLE,
    Supervisor,
    WorkerSlot,
    describe_exit,
    port_in_use,
    worker_environment,
    worker_index,
    workers_refusal,
)

POSTGRES = "postgresql+asyncpg://titan@db.example/titan"
REDIS = "redis://127.0.0.1:6379/0"


def _exits_with(code: int) -> list[str]:
    return [sys.executable, "-c", f"import sys; sys.exit({code})"]


async def test_workers_that_keep_dying_right_after_start_make_the_parent_give_up(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(workers, "BACKOFF_FIRST_S", 0.01)
    supervisor = Supervisor(Settings(), _exits_with(3), 2)
    async with asyncio.timeout(60):
        code = await supervisor.run()
    assert code == 1
    assert f"exited with code 3 {workers.MAX_QUICK_EXITS} times in a row" in supervisor.failure
    restarts = [r.getMessage() for r in caplog.records if "restarting it in" in r.getMessage()]
    # One line per unexpected exit, naming the worker and how it ended.
    assert restarts and all(line.startswith("worker ") and "exited with code 3" in line for line in restarts)


async def test_a_worker_that_refuses_to_start_is_not_retried() -> None:
    supervisor = Supervisor(Settings(), _exits_with(workers.REFUSED_EXIT_CODE), 2)
    async with asyncio.timeout(30):
        assert await supervisor.run() == 1
    assert "refused to start (exit code 2" in supervisor.failure


def test_exits_are_described_by_code_or_signal() -> None:
    assert describe_exit(3) == "exited with code 3"
    assert describe_exit(-9) == "was killed by SIGKILL"


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        (Settings(workers=1), ""),
        (Settings(workers=2, database_url=POSTGRES, bus=REDIS), ""),
        (Settings(workers=2, database_url=POSTGRES), "TITAN_BUS=redis://"),
        (Settings(workers=2, bus=REDIS), "needs PostgreSQL"),
    ],
)
def test_workers_are_refused_where_they_would_not_be_a_correct_cluster(
    settings: Settings, expected: str
) -> None:
    refusal = workers_refusal(settings)
    assert (expected in refusal) if expected else refusal == ""


def test_other_platforms_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "platform", "darwin")
    refusal = workers_refusal(Settings(workers=2, database_url=POSTGRES, bus=REDIS))
    assert "needs Linux" in refusal and "TITAN_WORKERS=1" in refusal


def test_a_worker_knows_its_index_from_the_slot_its_parent_gave_it(monkeypatch: pytest.MonkeyPatch) -> None:
    environment = worker_environment(WorkerSlot(2, 2, 100))
    assert WorkerSlot.current(environment) == WorkerSlot(2, 2, 100)
    monkeypatch.setenv(WORKER_VARIABLE, environment[WORKER_VARIABLE])
    assert worker_index() == 2
    monkeypatch.delenv(WORKER_VARIABLE)
    assert worker_index() is None


def test_no_slot_means_no_worker() -> None:
    assert WorkerSlot.current({}) is None
    assert WorkerSlot.current({WORKER_VARIABLE: "garbage"}) is None


def test_a_port_someone_listens_on_is_reported() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        assert "in use" in port_in_use("127.0.0.1", port)
    assert port_in_use("127.0.0.1", port) == ""


def test_connections_left_in_time_wait_do_not_make_the_port_taken() -> None:
    # A server stopped a moment ago leaves the connections it closed in TIME_WAIT on its port;
    # `titan serve` binds despite them (SO_REUSEADDR), so the check must not refuse.
    with socket.socket() as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as asyncio's servers do
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        client = socket.create_connection(("127.0.0.1", port))
        served, _ = listener.accept()
        served.close()  # the server's side closes first: its end goes to TIME_WAIT
        client.close()
    assert port_in_use("127.0.0.1", port) == ""


def test_workers_option_takes_a_positive_number(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["serve", "--workers", "0"])
    assert exit_.value.code == 2
    assert "is not a number of workers" in capsys.readouterr().err


async def _handed(worker_end: socket.socket, count: int) -> list[socket.socket]:
    """The next `count` connections the parent hands over `worker_end` (10 s at most)."""
    received: list[socket.socket] = []
    async with asyncio.timeout(10):
        while len(received) < count:
            try:
                _data, descriptors, _flags, _address = socket.recv_fds(worker_end, 16, 16)
            except BlockingIOError:
                await asyncio.sleep(0.01)
                continue
            received += [socket.socket(fileno=descriptor) for descriptor in descriptors]
    return received


async def _client(port: int) -> socket.socket:
    client = socket.socket()
    client.setblocking(False)
    await asyncio.get_running_loop().sock_connect(client, ("127.0.0.1", port))
    return client


async def test_the_parent_hands_connections_to_ready_workers_in_turn() -> None:
    [listener] = handoff.listen("127.0.0.1", 0)
    port = listener.getsockname()[1]
    dispatcher = handoff.ConnectionDispatcher([listener])
    ends = {index: socket.socket(fileno=dispatcher.open_channel(index)) for index in (1, 2)}
    for end in ends.values():
        end.setblocking(False)
    opened: list[socket.socket] = []
    try:
        # A connection made before any worker is ready waits in the backlog for the first one.
        opened.append(await _client(port))
        ends[1].send(b"R")
        [early] = await _handed(ends[1], 1)
        assert early.getpeername() == opened[0].getsockname()
        ends[2].send(b"R")
        async with asyncio.timeout(10):
            while dispatcher.ready() != [1, 2]:
                await asyncio.sleep(0.01)

        opened += [await _client(port) for _ in range(4)]
        to_one, to_two = await _handed(ends[1], 2), await _handed(ends[2], 2)
        assert sorted(c.getpeername()[1] for c in to_one + to_two) == sorted(
            c.getsockname()[1] for c in opened[1:]
        )

        # A worker that exits (its end closed) gets nothing more; the other takes every connection.
        ends.pop(2).close()
        async with asyncio.timeout(10):
            while dispatcher.ready() != [1]:
                await asyncio.sleep(0.01)
        opened += [await _client(port) for _ in range(3)]
        assert len(await _handed(ends[1], 3)) == 3
        for handed in [early, *to_one, *to_two]:
            handed.close()
    finally:
        for client in opened:
            client.close()
        for end in ends.values():
            end.close()
        dispatcher.close()


async def test_a_stopping_parent_refuses_new_connections() -> None:
    [listener] = handoff.listen("127.0.0.1", 0)
    port = listener.getsockname()[1]
    dispatcher = handoff.ConnectionDispatcher([listener])
    end = socket.socket(fileno=dispatcher.open_channel(1))
    try:
        end.send(b"R")
        async with asyncio.timeout(10):
            while dispatcher.ready() != [1]:
                await asyncio.sleep(0.01)

        dispatcher.stop_listening()

        with pytest.raises(ConnectionRefusedError):
            (await _client(port)).close()
    finally:
        end.close()
        dispatcher.close()


async def test_connections_wait_in_the_backlog_while_every_worker_is_behind() -> None:
    """Workers that read nothing for a while fill their channels: the parent then stops accepting,
    and no connection is closed; all are handed over once the workers read again."""
    [listener] = handoff.listen("127.0.0.1", 0)
    port = listener.getsockname()[1]
    dispatcher = handoff.ConnectionDispatcher([listener])
    ends = [socket.socket(fileno=dispatcher.open_channel(index)) for index in (1, 2)]
    for index in (1, 2):
        # A channel of a few messages (the kernel's minimum buffer), so that a few connections fill
        # it; a real one holds a few hundred.
        dispatcher._channels[index].own.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1)
    clients: list[socket.socket] = []
    received: list[socket.socket] = []
    try:
        for end in ends:
            end.setblocking(False)
            end.send(b"R")
        async with asyncio.timeout(10):
            while dispatcher.ready() != [1, 2]:
                await asyncio.sleep(0.01)

        # 60 clients while the workers read nothing: more than both channels hold, fewer than the
        # listen backlog (128), so every connect completes.
        clients = [await _client(port) for _ in range(60)]
        async with asyncio.timeout(30):
            while len(received) < len(clients):
                for end in ends:
                    with contextlib.suppress(BlockingIOError):
                        _data, descriptors, _flags, _address = socket.recv_fds(end, 64, 64)
                        received += [socket.socket(fileno=descriptor) for descriptor in descriptors]
                await asyncio.sleep(0.001)

        assert dispatcher.ready() == [1, 2]
        # Every connection reached a worker open: none was closed by the parent.
        assert sorted(c.getpeername()[1] for c in received) == sorted(c.getsockname()[1] for c in clients)
    finally:
        for sock in [*clients, *received, *ends]:
            sock.close()
        dispatcher.close()

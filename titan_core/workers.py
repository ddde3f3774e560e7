"""`titan serve --workers N`: N worker processes serving one host:port, and the parent that keeps them.

Each worker is a whole `titan serve` (the same command line, re-executed). The parent listens on
the port and hands each new connection to the next ready worker (handoff.py: in turn, so a few
long-lived connections are spread evenly, which SO_REUSEPORT's hashing does not). The workers are exactly the
instances of a cluster (docs/operations.md, "Several instances"): their own instance ids, relay and
sink leases in the database, events between them on the Redis bus. The parent migrates and loads
the demo once before it starts them (cli.py), then only supervises: restarts a worker that dies,
forwards SIGTERM/SIGINT, and gives up when workers keep dying right after they start.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import errno
import logging
import os
import signal
import socket
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from titan_core.settings import Settings

if TYPE_CHECKING:
    from titan_core.handoff import ConnectionDispatcher

log = logging.getLogger("titan.workers")

# Set by the parent on each worker it starts: "index/count/parent pid". A leading underscore keeps it
# out of the TITAN_* settings namespace: it is no setting, and a user never sets it.
WORKER_VARIABLE = "_TITAN_WORKER"
# The descriptor number of a worker's end of the channel its connections come over (handoff.py).
CHANNEL_VARIABLE = "_TITAN_WORKER_CHANNEL"
# A worker that exits sooner than this after its start "died right after start"; MAX_QUICK_EXITS of
# those in a row and the parent gives up instead of restarting it forever (a broken configuration).
STABLE_AFTER_S = 10.0
MAX_QUICK_EXITS = 5
BACKOFF_FIRST_S = 0.5
BACKOFF_MAX_S = 10.0
# A worker's exit code when it refuses to start (bad settings, a required plugin failing): the same
# configuration would fail again, so the parent does not retry.
REFUSED_EXIT_CODE = 2
_PR_SET_PDEATHSIG = 1  # linux/prctl.h


@dataclass(frozen=True)
class WorkerSlot:
    """Which worker this process is: `index` of `count` (1-based), started by process `parent`."""

    index: int
    count: int
    parent: int

    def encode(self) -> str:
        return f"{self.index}/{self.count}/{self.parent}"

    @classmethod
    def current(cls, environ: Mapping[str, str] | None = None) -> WorkerSlot | None:
        """This process's slot, or None when it is no worker (a plain `titan serve`, or the parent)."""
        text = (os.environ if environ is None else environ).get(WORKER_VARIABLE, "")
        try:
            index, count, parent = (int(part) for part in text.split("/"))
        except ValueError:
            return None
        return cls(index, count, parent)


def workers_refusal(settings: Settings) -> str:
    """Why `titan serve` must not start `settings.workers` workers ("" when it may).

    Workers are instances of a cluster, so they need what a cluster needs: a shared bus and a
    database several processes write to at once.
    """
    if settings.workers <= 1:
        return ""
    if not sys.platform.startswith("linux") or not hasattr(socket, "send_fds"):
        # The parent passes connections over Unix sockets, and the workers die with it by Linux's
        # PR_SET_PDEATHSIG: elsewhere a killed parent would leave its workers running.
        return (
            f"workers = {settings.workers} needs Linux (the parent hands the connections to its "
            f"workers, which die with it) and this is {sys.platform}; set TITAN_WORKERS=1 and run "
            "several instances on different ports behind a load balancer (docs/operations.md, Workers)"
        )
    if settings.bus == "memory":
        return (
            f"workers = {settings.workers} needs a shared event bus: with the in-memory bus every event "
            "reaches the WebSocket and /events clients of one worker only (the one that publishes). "
            "Set TITAN_BUS=redis://HOST:6379/0 (docs/events.md), or TITAN_WORKERS=1"
        )
    if settings.database_url.startswith("sqlite"):
        # SQLite is built on one process (database.py): writers are serialised and batched by a
        # lock inside the process, inline writes give up at once when another process holds the
        # file, and a commit wakes the relay of its own process only (PostgreSQL has LISTEN/NOTIFY).
        # Across processes writes would queue on the file lock (refused with 503 after 10 s) and
        # events wait for the relay's polling: not the cluster behaviour workers promise.
        return (
            f"workers = {settings.workers} needs PostgreSQL: SQLite has one writer at a time, and "
            "Titan shares it fairly only within one process; several workers would queue on the file "
            "lock. Set TITAN_DATABASE_URL=postgresql+asyncpg://USER@HOST/DB, or TITAN_WORKERS=1"
        )
    return ""


def port_in_use(host: str, port: int) -> str:
    """A message when host:port cannot be bound, typically because something listens there ("" when free).

    Checked before migrations and the demo, so a taken port is reported before anything else
    happens; the parent binds the port itself afterwards (handoff.listen).
    """
    try:
        infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as error:
        return f"cannot resolve host {host!r}: {error}"
    for family, kind, proto, _name, address in infos:
        try:
            with socket.socket(family, kind, proto) as probe:
                # As the server binds (asyncio sets SO_REUSEADDR on POSIX): connections of a stopped
                # server left in TIME_WAIT do not count, a listening socket does.
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                if family == socket.AF_INET6:
                    probe.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                probe.bind(address)
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                return f"cannot serve on {host}:{port}: the address is in use by another process"
            if error.errno == errno.EAFNOSUPPORT:
                continue  # an IPv6 address on a host without IPv6: the server skips it too
            return f"cannot serve on {host}:{port}: {error.strerror or error}"
    return ""


def worker_environment(slot: WorkerSlot) -> dict[str, str]:
    """The environment of worker `slot`: the parent's, and its slot. Plugins that hold an identity
    of their own derive a per-worker one from `worker_index()` (the MQTT plugin's fixed client id)."""
    environment = dict(os.environ)
    environment[WORKER_VARIABLE] = slot.encode()
    return environment


def worker_index() -> int | None:
    """This process's number (1 to N) among the workers of `titan serve --workers N`; None in a
    plain `titan serve` (and in the parent). Stable across restarts of that worker: an identity a
    plugin derives from it (a fixed MQTT client id plus `-w<index>`) keeps its broker session."""
    slot = WorkerSlot.current()
    return None if slot is None else slot.index


def become_worker(slot: WorkerSlot) -> bool:
    """In a worker, at start: die with the parent. False when the parent is gone already.

    A parent killed with SIGKILL cannot stop its workers; the kernel sends them SIGTERM instead
    (PR_SET_PDEATHSIG), so no orphan keeps serving the port.
    """
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    return os.getppid() == slot.parent  # checked after prctl: the parent may have died before it


def describe_exit(code: int) -> str:
    if code < 0:
        try:
            return f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with code {code}"


class _Worker:
    def __init__(self, slot: WorkerSlot) -> None:
        self.slot = slot
        self.process: asyncio.subprocess.Process | None = None


class Supervisor:
    """Starts `count` workers running `command`, restarts those that die, stops them on a signal."""

    def __init__(
        self,
        settings: Settings,
        command: Sequence[str],
        count: int,
        listeners: Sequence[socket.socket] = (),
    ) -> None:
        self.settings = settings
        self.command = list(command)
        # The sockets the parent accepts on, handed to the workers in turn (none: the workers get no
        # connections, as in the supervisor's own tests).
        self.listeners = list(listeners)
        self.dispatcher: ConnectionDispatcher | None = None
        self.workers = [_Worker(WorkerSlot(index, count, os.getpid())) for index in range(1, count + 1)]
        self.stopping = asyncio.Event()
        self.stop_signal = signal.SIGTERM
        self.failure = ""

    async def run(self) -> int:
        """Supervise until a signal (exit code 0 once every worker stopped) or until giving up (1)."""
        loop = asyncio.get_running_loop()
        for number in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(number, self._signalled, number)
        if self.listeners:
            from titan_core.handoff import ConnectionDispatcher  # aiohttp: not for the CLI's every start

            self.dispatcher = ConnectionDispatcher(self.listeners)
        try:
            keepers = [asyncio.create_task(self._keep(worker)) for worker in self.workers]
            await self.stopping.wait()
            if self.dispatcher is not None:
                self.dispatcher.stop_listening()
            await self._stop_all(keepers)
        finally:
            for number in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(number)
            if self.dispatcher is not None:
                self.dispatcher.close()
        if self.failure:
            log.error("%s", self.failure)
            return 1
        log.info("all %d workers stopped", len(self.workers))
        return 0

    def _signalled(self, number: int) -> None:
        if not self.stopping.is_set():
            log.info("%s: stopping %d workers", signal.Signals(number).name, len(self.workers))
        self.stop_signal = signal.Signals(number)
        self.stopping.set()

    def _give_up(self, message: str) -> None:
        if not self.failure:
            self.failure = message
        self.stopping.set()

    async def _keep(self, worker: _Worker) -> None:
        """Run one worker slot: start it, and restart it with backoff whenever it exits unasked."""
        index, quick_exits, delay = worker.slot.index, 0, BACKOFF_FIRST_S
        while not self.stopping.is_set():
            started = time.monotonic()
            environment = worker_environment(worker.slot)
            channel: int | None = None
            try:
                if self.dispatcher is not None:
                    channel = self.dispatcher.open_channel(index)
                    environment[CHANNEL_VARIABLE] = str(channel)
                process = worker.process = await asyncio.create_subprocess_exec(
                    *self.command,
                    env=environment,
                    stdin=asyncio.subprocess.DEVNULL,
                    pass_fds=() if channel is None else (channel,),
                    # Its own session: a Ctrl-C in the terminal reaches the parent only, which stops
                    # the workers once (a second signal would cut a worker's graceful shutdown short).
                    start_new_session=True,
                )
            except OSError as error:  # no processes left, the interpreter gone: retrying will not help
                self._give_up(f"cannot start worker {index}: {error}; stopping every worker")
                return
            finally:
                if channel is not None:
                    os.close(channel)  # the worker holds its end now
            if self.stopping.is_set():  # stopping began while it was being started
                process.send_signal(self.stop_signal)
            code = await process.wait()
            if self.dispatcher is not None:
                self.dispatcher.close_channel(index)
            if self.stopping.is_set():
                return
            lived = time.monotonic() - started
            if code == REFUSED_EXIT_CODE:
                self._give_up(f"worker {index} (pid {process.pid}) refused to start (exit code {code}, "
                              "its message is above); stopping every worker")  # fmt: skip
                return
            quick_exits = quick_exits + 1 if lived < STABLE_AFTER_S else 0
            if quick_exits >= MAX_QUICK_EXITS:
                self._give_up(
                    f"worker {index} {describe_exit(code)} {quick_exits} times in a row within "
                    f"{STABLE_AFTER_S:g} s of starting (see its messages above); giving up and stopping "
                    "every worker"
                )
                return
            if lived >= STABLE_AFTER_S:
                delay = BACKOFF_FIRST_S
            log.error("worker %d (pid %d) %s after %.1f s; restarting it in %.1f s",
                      index, process.pid, describe_exit(code), lived, delay)  # fmt: skip
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), delay)
            delay = min(delay * 2, BACKOFF_MAX_S)

    async def _stop_all(self, keepers: list[asyncio.Task[None]]) -> None:
        """Forward the stop signal to every worker; kill those still running after `stop_timeout`."""
        for worker in self.workers:
            if worker.process is not None and worker.process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    worker.process.send_signal(self.stop_signal)
        grace = self.settings.stop_timeout
        _done, late = await asyncio.wait(keepers, timeout=grace)
        for worker in self.workers:
            if late and worker.process is not None and worker.process.returncode is None:
                log.warning("worker %d (pid %d) did not stop within %g s; killing it",
                            worker.slot.index, worker.process.pid, grace)  # fmt: skip
                with contextlib.suppress(ProcessLookupError):
                    worker.process.kill()
        if late:
            await asyncio.wait(late)


def supervise(
    settings: Settings, command: Sequence[str], count: int, listeners: Sequence[socket.socket]
) -> int:
    """Run `count` workers of `command`, handing them the connections of `listeners`, until a signal
    or a give-up; the exit code for the parent."""
    return asyncio.run(Supervisor(settings, command, count, listeners).run())

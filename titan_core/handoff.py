"""Connections handed from the parent of `titan serve --workers N` to its workers, one in turn.

The parent holds the listening sockets and accepts; each accepted connection goes to the next ready
worker over a Unix socket of its own (the descriptor passed with SCM_RIGHTS), and the worker serves
it as if it had accepted it itself. Why not let every worker listen with SO_REUSEPORT: the kernel
then picks a worker by a hash of the connection's addresses, so a few long-lived connections (a
load balancer's or a gateway's keep-alive pool, a load generator's 16) split unevenly: 16 over 2
workers are 8/8 only one time in five, and 10/6 or worse one time in three. The worker with more
connections queues their requests while the other has CPU to spare (docs/performance.md, "Workers:
connections in turn"). Handed in turn, 16 connections are 8/8. The cost is one `sendmsg` in the
parent per new connection, nothing per request.

A worker announces itself ready over its channel once its app has started; until one worker is
ready the parent does not accept, so connections wait in the kernel's backlog instead of in a
worker that is still starting. A worker that dies closes its end: the parent stops handing it
connections until its replacement is ready.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import signal
import socket
from collections.abc import Callable, Sequence
from typing import Any

from aiohttp import web

log = logging.getLogger("titan.workers")

_READY = b"R"
# The byte sent with each descriptor (SCM_RIGHTS needs at least one byte of data).
_CONNECTION = b"C"
# Descriptors a worker takes from its channel per read (each message carries one).
_BATCH = 64
# How soon a connection that no worker could take (every channel full) is offered again.
_RETRY_S = 0.01


def listen(host: str, port: int, *, backlog: int = 128) -> list[socket.socket]:
    """Listening sockets for every address `host` resolves to, as aiohttp binds them
    (SO_REUSEADDR, IPv6 sockets IPv6 only, an IPv6 address skipped on a host without IPv6);
    OSError when one cannot be bound."""
    listeners: list[socket.socket] = []
    infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    try:
        for family, kind, proto, _name, address in dict.fromkeys(infos):
            try:
                listener = socket.socket(family, kind, proto)
            except OSError as error:
                if error.errno == errno.EAFNOSUPPORT:
                    continue
                raise
            listeners.append(listener)
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                listener.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            listener.bind(address)
            listener.listen(backlog)
            listener.setblocking(False)
    except BaseException:
        for listener in listeners:
            listener.close()
        raise
    return listeners


class _Channel:
    """The parent's end of one worker's channel."""

    def __init__(self, own: socket.socket) -> None:
        self.own = own
        self.ready = False


class ConnectionDispatcher:
    """The parent's side: accepts on `listeners` and hands each connection to the next ready worker."""

    def __init__(self, listeners: Sequence[socket.socket]) -> None:
        self.listeners = list(listeners)
        self._channels: dict[int, _Channel] = {}
        self._turn = 0
        self._accepting = False
        self._closed = False
        # An accepted connection no worker could take yet (every channel full): retried shortly.
        self._waiting: socket.socket | None = None
        self._dropped = 0

    def open_channel(self, index: int) -> int:
        """A new channel for worker `index` (replacing its previous one); returns the descriptor of
        the worker's end, to pass to the worker's process and close in the parent once it started."""
        self.close_channel(index)
        own, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        own.setblocking(False)
        self._channels[index] = _Channel(own)
        asyncio.get_running_loop().add_reader(own.fileno(), self._heard_from, index)
        theirs.set_inheritable(True)
        return theirs.detach()

    def close_channel(self, index: int) -> None:
        channel = self._channels.pop(index, None)
        if channel is not None:
            asyncio.get_running_loop().remove_reader(channel.own.fileno())
            channel.own.close()
            self._accept_while_someone_is_ready()

    def stop_listening(self) -> None:
        """Close the listening sockets: new connections are refused from now on (a stopping
        server's; a load balancer tries another), where they would wait for workers that stop."""
        self._stop_accepting()
        self._closed = True
        if self._waiting is not None:
            self._waiting.close()
            self._waiting = None
        for listener in self.listeners:
            listener.close()

    def close(self) -> None:
        self.stop_listening()
        for index in list(self._channels):
            self.close_channel(index)

    def ready(self) -> list[int]:
        """The workers connections are handed to now (ready, channel open), by index."""
        return sorted(index for index, channel in self._channels.items() if channel.ready)

    def _heard_from(self, index: int) -> None:
        channel = self._channels[index]
        try:
            message = channel.own.recv(64)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            message = b""
        if not message:  # the worker exited: its end is closed
            self.close_channel(index)
            return
        if _READY in message and not channel.ready:
            channel.ready = True
            self._accept_while_someone_is_ready()

    def _accept_while_someone_is_ready(self) -> None:
        if self._waiting is not None:
            return  # _retry_waiting resumes accepting once it is handed over
        if not self._closed and any(channel.ready for channel in self._channels.values()):
            if not self._accepting:
                loop = asyncio.get_running_loop()
                for listener in self.listeners:
                    loop.add_reader(listener.fileno(), self._accept, listener)
                self._accepting = True
        else:
            self._stop_accepting()

    def _stop_accepting(self) -> None:
        if self._accepting:
            loop = asyncio.get_running_loop()
            for listener in self.listeners:
                loop.remove_reader(listener.fileno())
            self._accepting = False

    def _accept(self, listener: socket.socket) -> None:
        for _ in range(128):  # at most a backlog's worth per wake-up, then let the loop breathe
            if not self._accepting:  # every worker full or gone meanwhile: the rest wait in the backlog
                return
            try:
                connection, _address = listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as error:  # out of descriptors, a connection reset before it was taken
                log.warning("workers: accepting a connection failed: %s", error)
                return
            if not self._hand_over(connection):
                # Every worker's channel is full: keep this one, accept no more until it is handed
                # over (the others wait in the kernel's backlog, not closed).
                self._waiting = connection
                self._stop_accepting()
                asyncio.get_running_loop().call_later(_RETRY_S, self._retry_waiting)
                return

    def _retry_waiting(self) -> None:
        connection, self._waiting = self._waiting, None
        if connection is None:
            return
        if self._closed or not self.ready():
            connection.close()  # stopping, or no worker left: the client sees the connection close
            return
        if self._hand_over(connection):
            self._accept_while_someone_is_ready()
        else:
            self._waiting = connection
            asyncio.get_running_loop().call_later(_RETRY_S, self._retry_waiting)

    def _hand_over(self, connection: socket.socket) -> bool:
        """Pass `connection` to the next ready worker that can take it, and close it here; False
        (and it stays open here) when every ready worker's channel is full."""
        ready = self.ready()
        for attempt in range(len(ready)):
            index = ready[(self._turn + attempt) % len(ready)]
            try:
                socket.send_fds(self._channels[index].own, [_CONNECTION], [connection.fileno()])
            except (BrokenPipeError, ConnectionResetError):
                self.close_channel(index)  # it exited; the reader sees the end too
                continue
            except OSError as error:
                # Its channel is full (EAGAIN), or the kernel will not queue more descriptors now
                # (ETOOMANYREFS, ENOBUFS): a worker that does not keep up, not one that is gone.
                log.debug("workers: worker %d cannot take a connection now: %s", index, error)
                continue
            self._turn = (self._turn + attempt + 1) % max(len(ready), 1)
            connection.close()
            return True
        return False


class HandedConnectionsSite(web.BaseSite):
    """The worker's side: an aiohttp site whose connections come over the channel from the parent."""

    __slots__ = ("_channel", "_connecting", "_label")

    def __init__(self, runner: web.BaseRunner, channel: socket.socket, label: str) -> None:
        super().__init__(runner)
        self._channel = channel
        self._label = label
        # The connections being wrapped in a transport (held so they are not collected meanwhile).
        self._connecting: set[asyncio.Task[Any]] = set()

    @property
    def name(self) -> str:
        return self._label

    async def start(self) -> None:
        await super().start()
        self._channel.setblocking(False)
        asyncio.get_running_loop().add_reader(self._channel.fileno(), self._receive)
        self._channel.send(_READY)

    async def stop(self) -> None:
        with contextlib.suppress(ValueError, OSError):
            asyncio.get_running_loop().remove_reader(self._channel.fileno())
        self._channel.close()
        await super().stop()

    def _receive(self) -> None:
        loop = asyncio.get_running_loop()
        server = self._runner.server
        assert server is not None
        while True:
            try:
                data, descriptors, flags, _address = socket.recv_fds(self._channel, _BATCH, _BATCH)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as error:
                data, descriptors, flags = b"", [], 0
                log.warning("workers: the channel from the parent failed: %s", error)
            if flags & socket.MSG_CTRUNC:
                # The kernel could not give this process a descriptor (out of them): that client's
                # connection is closed. Say so; the parent cannot know.
                log.warning("workers: a connection from the parent was lost: this process has no "
                            "file descriptors left (raise its limit, ulimit -n)")  # fmt: skip
            if not data and not descriptors:
                # The channel ended: the parent closed it (it also sends SIGTERM when it dies) or
                # dropped this worker. A worker without connections is of no use: stop as on
                # SIGTERM, so the parent (if alive) starts a new one.
                loop.remove_reader(self._channel.fileno())
                log.warning("workers: the channel from the parent ended; stopping this worker")
                signal.raise_signal(signal.SIGTERM)
                return
            for descriptor in descriptors:
                connection = socket.socket(fileno=descriptor)
                connection.setblocking(False)
                task = loop.create_task(loop.connect_accepted_socket(server, connection))
                self._connecting.add(task)
                task.add_done_callback(self._connected)

    def _connected(self, task: asyncio.Task[Any]) -> None:
        self._connecting.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("workers: a handed connection could not be served: %s", task.exception())


def run_handed(
    app: web.Application,
    channel_fd: int,
    loop: asyncio.AbstractEventLoop,
    *,
    label: str,
    announce: Callable[[], None],
    shutdown_timeout: float,
) -> None:
    """Serve `app` on the connections the parent hands over `channel_fd` until SIGTERM or SIGINT,
    then shut down as `web.run_app` does (the app's shutdown and cleanup, open connections closed;
    requests in flight get `shutdown_timeout` seconds to finish). Runs on `loop` and closes it."""
    channel = socket.socket(fileno=channel_fd)

    async def serve() -> None:
        runner = web.AppRunner(app, handle_signals=True, access_log=None, shutdown_timeout=shutdown_timeout)
        await runner.setup()
        try:
            await HandedConnectionsSite(runner, channel, label).start()
            announce()
            await asyncio.Event().wait()  # until a signal raises GracefulExit
        finally:
            await runner.cleanup()

    main = loop.create_task(serve())
    try:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(main)
    except (web.GracefulExit, KeyboardInterrupt):
        pass
    finally:
        try:
            if not main.done():
                main.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    loop.run_until_complete(main)
        finally:
            others = asyncio.all_tasks(loop)
            for task in others:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*others, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()
            channel.close()

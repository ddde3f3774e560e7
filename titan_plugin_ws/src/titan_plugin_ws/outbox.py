"""What one connection sends: WebSocket text frames written without awaiting, and a bounded queue
for when the client reads slower than events come.

The event sink calls `send` for every client in turn and must never wait for one of them. While the
socket takes data, a frame goes straight to the transport (one `write`, no task switch); once the
transport holds `DIRECT_WRITE_LIMIT` bytes unsent, messages wait in the queue and one flusher task
hands them on as the client reads. A queue that outgrows its bounds marks the client too slow.
"""

from __future__ import annotations

import asyncio
import struct
from collections import deque
from collections.abc import Callable

from aiohttp import WSMsgType, web

# Bytes the transport may hold unsent before messages queue up instead (asyncio's own high-water
# mark for pausing writers is 64 KiB).
DIRECT_WRITE_LIMIT = 64 * 1024

_HEADER_SHORT = struct.Struct("!BB")
_HEADER_MEDIUM = struct.Struct("!BBH")
_HEADER_LONG = struct.Struct("!BBQ")
_FIN_TEXT = 0x81


def text_frame_header(length: int) -> bytes:
    """The header of an unmasked, final text frame (RFC 6455 §5.2) with a payload of `length` bytes."""
    if length < 126:
        return _HEADER_SHORT.pack(_FIN_TEXT, length)
    if length < 65536:
        return _HEADER_MEDIUM.pack(_FIN_TEXT, 126, length)
    return _HEADER_LONG.pack(_FIN_TEXT, 127, length)


class Outbox:
    """The outgoing side of one WebSocket: ordered, never blocking the caller, bounded.

    `on_overflow` is called (once) when more than `max_messages` messages or `max_bytes` bytes wait;
    the queue is emptied then, and nothing more is sent. The queue and its event exist only once
    needed: most connections never queue anything.
    """

    __slots__ = ("_flusher", "_on_overflow", "_queue", "_queued_bytes", "_room", "_transport", "_ws",
                 "max_bytes", "max_messages", "stopped")  # fmt: skip

    def __init__(
        self,
        ws: web.WebSocketResponse,
        transport: asyncio.Transport,
        *,
        max_messages: int,
        max_bytes: int,
        on_overflow: Callable[[], None],
    ) -> None:
        self._ws = ws
        self._transport = transport
        self.max_messages = max_messages
        self.max_bytes = max_bytes
        self._on_overflow = on_overflow
        self._queue: deque[bytes] | None = None
        self._queued_bytes = 0
        self._flusher: asyncio.Task[None] | None = None
        self._room: asyncio.Event | None = None
        self.stopped = False

    @property
    def queued(self) -> int:
        return len(self._queue) if self._queue is not None else 0

    def send(self, *parts: bytes) -> None:
        """Send one text message made of `parts` (joined once, with the frame header)."""
        if self.stopped:
            return
        transport = self._transport
        if transport.is_closing():
            self.stop()
            return
        size = sum(len(part) for part in parts)
        if not self._queue and transport.get_write_buffer_size() < DIRECT_WRITE_LIMIT:
            transport.write(b"".join((text_frame_header(size), *parts)))
            return
        queue = self._queue
        if queue is None:
            queue = self._queue = deque()
        queue.append(b"".join(parts))
        self._queued_bytes += size
        if len(queue) > self.max_messages or self._queued_bytes > self.max_bytes:
            self.stop()
            self._on_overflow()
            return
        if self._flusher is None:
            self._flusher = asyncio.get_running_loop().create_task(self._flush())

    async def wait_for_room(self) -> None:
        """Wait while the queue is at least half full (for senders that can wait: history replay)."""
        while self._over_half() and not self.stopped:
            room = self._room
            if room is None:
                room = self._room = asyncio.Event()
            room.clear()
            await room.wait()

    def _wake(self) -> None:
        if self._room is not None:
            self._room.set()

    def has_room(self) -> bool:
        return not self._over_half()

    def stop(self) -> None:
        """Send nothing more; drop what waits.

        A flusher waiting for the transport to drain is left to end by itself (when the transport
        drains or closes): cancelling it would cancel aiohttp's drain future, which the closing
        handshake waits on too.
        """
        self.stopped = True
        if self._queue is not None:
            self._queue.clear()
        self._queued_bytes = 0
        self._wake()

    def _over_half(self) -> bool:
        return self.queued * 2 >= self.max_messages or self._queued_bytes * 2 >= self.max_bytes

    async def _flush(self) -> None:
        queue = self._queue
        assert queue is not None
        try:
            while queue and not self.stopped:
                message = queue.popleft()
                self._queued_bytes -= len(message)
                if not self._over_half():
                    self._wake()
                # aiohttp writes the frame at once and then waits while the transport is paused,
                # which is the back-pressure this task exists for.
                await self._ws.send_frame(message, WSMsgType.TEXT)
        except (ConnectionError, RuntimeError):
            self.stop()
        finally:
            if self._flusher is asyncio.current_task():
                self._flusher = None
            self._wake()

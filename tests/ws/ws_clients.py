"""Real WebSocket clients for the `/ws/events` tests: aiohttp's and the `websockets` library's, behind
one small interface, so every protocol test runs with both.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from typing import Any, Protocol

import aiohttp
import websockets
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

Message = dict[str, Any]


class Closed(Exception):
    """The server closed the connection: `code` and `reason` from its close frame."""

    def __init__(self, code: int | None, reason: str) -> None:
        super().__init__(f"closed with {code}: {reason}")
        self.code = code
        self.reason = reason


class WsClient(Protocol):
    kind: str

    async def send(self, message: Message | str | bytes) -> None: ...

    async def receive(self, timeout: float = 5.0) -> Message:
        """The next message; `Closed` when the server closed the connection instead."""

    async def close(self) -> None: ...


class AiohttpClient:
    kind = "aiohttp"

    def __init__(self, session: aiohttp.ClientSession, ws: aiohttp.ClientWebSocketResponse) -> None:
        self._session = session
        self._ws = ws

    async def send(self, message: Message | str | bytes) -> None:
        if isinstance(message, bytes):
            await self._ws.send_bytes(message)
        else:
            await self._ws.send_str(message if isinstance(message, str) else json.dumps(message))

    async def receive(self, timeout: float = 5.0) -> Message:
        message = await self._ws.receive(timeout=timeout)
        if message.type is aiohttp.WSMsgType.TEXT:
            decoded: Message = json.loads(message.data)
            return decoded
        if message.type is aiohttp.WSMsgType.CLOSE:
            # The close frame's own code: the client's `close_code` may later say 1006 if the
            # server dropped the TCP connection right after its close frame.
            raise Closed(int(message.data), message.extra if isinstance(message.extra, str) else "")
        if message.type in (aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.CLOSED):
            raise Closed(self._ws.close_code, "")
        raise AssertionError(f"unexpected frame {message.type}: {message.data!r}")

    async def close(self) -> None:
        await self._ws.close()
        await self._session.close()


class WebsocketsClient:
    kind = "websockets"

    def __init__(self, connection: ClientConnection) -> None:
        self._connection = connection

    async def send(self, message: Message | str | bytes) -> None:
        await self._connection.send(message if isinstance(message, str | bytes) else json.dumps(message))

    async def receive(self, timeout: float = 5.0) -> Message:
        try:
            data = await asyncio.wait_for(self._connection.recv(), timeout)
        except ConnectionClosed as closed:
            frame = closed.rcvd
            raise Closed(frame.code if frame else None, frame.reason if frame else "") from None
        decoded: Message = json.loads(data)
        return decoded

    async def close(self) -> None:
        await self._connection.close()


async def connect(
    kind: str,
    url: str,
    *,
    headers: Mapping[str, str] | None = None,
    origin: str | None = None,
) -> WsClient:
    """Open `url` with the client library named by `kind` ("aiohttp" or "websockets")."""
    if kind == "aiohttp":
        session = aiohttp.ClientSession()
        extra = dict(headers or {})
        if origin is not None:
            extra["Origin"] = origin
        ws = await session.ws_connect(url, headers=extra, autoping=True)
        return AiohttpClient(session, ws)
    if kind == "websockets":
        connection = await websockets.connect(
            url,
            additional_headers=dict(headers or {}),
            origin=origin,  # type: ignore[arg-type]
            max_size=None,
        )
        return WebsocketsClient(connection)
    raise ValueError(kind)


async def expect_close(client: WsClient, timeout: float = 5.0) -> Closed:
    """Read until the server closes; messages before the close are ignored."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        remaining = deadline - loop.time()
        if remaining <= 0:
            raise AssertionError(f"the server did not close the connection within {timeout} s")
        try:
            await client.receive(remaining)
        except Closed as closed:
            return closed


async def receive_type(client: WsClient, kind: str, timeout: float = 5.0) -> Message:
    """The next message, which must be of type `kind`."""
    message = await client.receive(timeout)
    assert message["type"] == kind, message
    return message


async def subscribe(client: WsClient, sid: str, **fields: Any) -> Message:
    """Send a subscribe and return the `subscribed` answer."""
    await client.send({"type": "subscribe", "id": sid, **fields})
    answer = await client.receive()
    assert answer == {"type": "subscribed", "id": sid}, answer
    return answer


async def events(client: WsClient, count: int, timeout: float = 10.0) -> list[Message]:
    """The next `count` messages, each an event."""
    received = []
    for _ in range(count):
        message = await client.receive(timeout)
        assert message["type"] == "event", message
        received.append(message)
    return received


async def no_message(client: WsClient, within: float = 0.3) -> None:
    """Nothing arrives for `within` seconds (a ping round trip first makes it tight)."""
    await client.send({"type": "ping"})
    assert await client.receive() == {"type": "pong"}
    try:
        message = await client.receive(within)
    except TimeoutError:
        return
    raise AssertionError(f"expected no message, got {message}")

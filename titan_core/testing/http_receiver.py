"""A real local HTTP server for transports that push over HTTP (webhooks): it records every request
and answers as scripted, or refuses everything while "down"."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from titan_core.testing.waiting import wait_for_delivery

HANG = -1
"""A scripted answer that never comes (for timeout tests)."""


@dataclass(frozen=True)
class ReceivedRequest:
    path: str
    headers: Mapping[str, str]
    body: bytes
    received_at: float

    def json(self) -> Any:
        return json.loads(self.body)


class HttpReceiver:
    """Listens on 127.0.0.1 on a free port. Answers 204 unless `script` says otherwise: each entry
    (a status, optionally with headers) answers one request, in order. While `down` is set, every
    request is answered 503 (a receiver in trouble), and `accepted` leaves it out."""

    def __init__(self) -> None:
        self.requests: list[ReceivedRequest] = []
        self.accepted: list[ReceivedRequest] = []
        self.script: list[tuple[int, dict[str, str]]] = []
        self.down = False
        self._runner: web.AppRunner | None = None
        self._stopping = asyncio.Event()
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def answer(self, *statuses: int, headers: dict[str, str] | None = None) -> None:
        """Answer the next requests with these statuses (then 204 again)."""
        self.script.extend((status, dict(headers or {})) for status in statuses)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/{tail:.*}", self._receive)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        self._stopping.set()  # lets hanging answers end, so shutdown does not wait for them
        if self._runner is not None:
            await self._runner.cleanup()

    async def wait_for(self, count: int, timeout: float = 10.0) -> list[ReceivedRequest]:
        """The first `count` requests, once they have arrived; fails after `timeout` seconds."""
        await wait_for_delivery(
            lambda: len(self.requests) >= count, timeout=timeout,
            message=lambda: f"expected {count} HTTP requests at {self.url}, got {len(self.requests)}",
        )  # fmt: skip
        return self.requests[:count]

    async def _receive(self, request: web.Request) -> web.Response:
        received = ReceivedRequest(request.path, dict(request.headers), await request.read(), time.time())
        self.requests.append(received)
        if self.down:
            return web.Response(status=503, text="down (HttpReceiver.down)")
        status, headers = self.script.pop(0) if self.script else (204, {})
        if status == HANG:
            await self._stopping.wait()
            status = 503
        if 200 <= status < 300:
            self.accepted.append(received)
        return web.Response(status=status, headers=headers)


def unused_port() -> int:
    """A loopback TCP port nothing listens on now (for "the receiver is unreachable" tests)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port

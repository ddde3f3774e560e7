"""A real `titan serve` with authentication on, shared by the tests of one module, and raw-socket
helpers for requests no well-behaved client would send."""

from __future__ import annotations

import asyncio
import json
import re
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.live_server import LiveServer, start_live_server

from .twins import API_KEY_ENTRIES, KEYS, OTHER_SHELL_ID, OTHER_SM_ID, SHELL_ID, SM_ID, shell, submodel

ADMIN = {"X-API-Key": KEYS["admin"]}


def start_secure_server(directory: Path, **settings: str) -> LiveServer:
    """`titan serve` on a new SQLite file, authentication on, holding the twins."""
    env = {
        "TITAN_AUTH_ENABLED": "true",
        "TITAN_API_KEYS": ",".join(API_KEY_ENTRIES),
        **{f"TITAN_{name.upper()}": value for name, value in settings.items()},
    }
    server = start_live_server(f"sqlite+aiosqlite:///{directory}/titan.sqlite3", log_dir=directory, env=env)
    twins = [
        ("/submodels", submodel(SM_ID)),
        ("/submodels", submodel(OTHER_SM_ID)),
        ("/shells", shell(SHELL_ID, SM_ID)),
        ("/shells", shell(OTHER_SHELL_ID, OTHER_SM_ID)),
    ]
    for path, document in twins:
        request = urllib.request.Request(
            server.base_url + path, data=json.dumps(document).encode(), method="POST",
            headers={"Content-Type": "application/json", **ADMIN},
        )  # fmt: skip
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 201
    return server


def module_server(tmp_path_factory: pytest.TempPathFactory, **settings: str) -> Iterator[LiveServer]:
    """For a module-scoped fixture: the server, stopped (its log printed) afterwards."""
    server = start_secure_server(tmp_path_factory.mktemp("live"), **settings)
    yield server
    server.stop()
    print(f"\n=== titan serve on port {server.port} ===\n{server.log_tail(200)}")


def unhandled_errors(server: LiveServer) -> list[str]:
    """Lines of the server log that tell of a crash or an exception nobody handled."""
    return [line for line in server.log().splitlines()
            if re.search(r"Traceback|unhandled error|Error handling request|Unhandled exception", line)]  # fmt: skip


async def raw_exchange(server: LiveServer, request: bytes, *, timeout: float = 10) -> tuple[int, bytes]:
    """Send `request` as it is and read the answer's status and body (up to its Content-Length)."""
    reader, writer = await asyncio.open_connection(server.host, server.port)
    try:
        writer.write(request)
        await writer.drain()
        return await read_answer(reader, timeout=timeout)
    finally:
        writer.close()


async def read_answer(reader: asyncio.StreamReader, *, timeout: float = 10) -> tuple[int, bytes]:
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=timeout)
    status = int(head.split(b" ", 2)[1])
    match = re.search(rb"(?i)content-length: *(\d+)", head)
    body = await asyncio.wait_for(reader.readexactly(int(match.group(1))), timeout) if match else b""
    return status, body


def get(server: LiveServer, path: str, headers: dict[str, str] | None = None) -> int:
    request = urllib.request.Request(server.base_url + path, headers=headers or ADMIN)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)

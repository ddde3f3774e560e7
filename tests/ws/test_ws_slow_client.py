"""A client that stops reading is closed with 4429 once its queue fills, while the others keep
receiving every event (issue 5, "What must hold" 5)."""

from __future__ import annotations

import asyncio
import socket
import time
from typing import Any
from urllib.parse import urlsplit

import websockets
from titan_plugin_ws.plugin import HUB

from titan_core.model.identifiers import encode_identifier

from .helpers import WsServerFactory
from .ws_clients import Closed, WebsocketsClient, events, receive_type, subscribe

BIG_SM_ID = "https://example.com/ids/sm/ws-big"
PROPERTIES = 100


def big_submodel(round_number: int) -> dict[str, Any]:
    """100 string Properties of 4 KB each; every round changes all of them (100 valueChanged)."""
    return {
        "modelType": "Submodel",
        "id": BIG_SM_ID,
        "idShort": "Big",
        "submodelElements": [
            {
                "modelType": "Property",
                "idShort": f"P{index}",
                "valueType": "xs:string",
                "value": f"{round_number}-{index}-" + "x" * 4096,
            }
            for index in range(PROPERTIES)
        ],
    }


async def stalled_client(url: str) -> WebsocketsClient:
    """A `websockets` client on a socket with a tiny receive buffer, which reads only when told."""
    parts = urlsplit(url)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect((parts.hostname, parts.port))
    sock.setblocking(False)
    # max_queue=1: the library stops reading from the socket as soon as one message waits.
    connection = await websockets.connect(url, sock=sock, max_queue=1, max_size=None)
    return WebsocketsClient(connection)


async def test_a_client_that_stops_reading_is_closed_with_4429_and_the_others_keep_receiving(
    make_ws_server: WsServerFactory,
) -> None:
    # A queue above one sink batch (100 events, delivered at once) and below what 6 rounds bring.
    server = await make_ws_server(ws={"queue_messages": 150, "close_timeout": 30})
    await server.write("POST", "/submodels", big_submodel(0), expect=201)
    await server.published(1)
    hub = server.app[HUB]

    stalled = await stalled_client(server.ws_url)
    await receive_type(stalled, "welcome")
    await subscribe(stalled, "s")
    healthy = [await server.connect(kind) for kind in ("aiohttp", "websockets")]
    for client in healthy:
        await receive_type(client, "welcome")
        await subscribe(client, "s")
    rounds = 6
    expected = rounds * (PROPERTIES + 1)  # per PUT: the submodel's `updated` and 100 `valueChanged`
    readers = [asyncio.create_task(events(client, expected, timeout=30)) for client in healthy]

    started = time.monotonic()
    for round_number in range(1, rounds + 1):
        await server.write("PUT", f"/submodels/{encode_identifier(BIG_SM_ID)}", big_submodel(round_number))
    for received in await asyncio.gather(*readers):
        assert [int(message["event"]["titanseq"]) for message in received] == list(range(2, 2 + expected))
    assert hub.stats.closed_slow == 1
    assert time.monotonic() - started < 30

    # The stalled client reads again: what was on its way, then the close frame.
    read = 0
    close: Closed | None = None
    while close is None:
        try:
            await stalled.receive(timeout=10)
            read += 1
        except Closed as closed:
            close = closed
    assert close.code == 4429, close
    assert "too slow" in close.reason
    assert read < expected
    async with server.http.get(server.url("/ready")) as response:
        ready = await response.json()
    (report,) = [check for check in ready["checks"] if check["name"] == "ws"]
    assert "1 closed as too slow" in report["detail"]

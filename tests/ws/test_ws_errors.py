"""Every error code of `/ws/events` and the limits on what one client sends, live, with both clients."""

from __future__ import annotations

import asyncio
import base64
import os
import time
from urllib.parse import urlsplit

import pytest

from tests.support.redis import ThrowawayRedis
from titan_core.settings import Settings

from .helpers import OTHER_SM_ID, SM_ID, WsServer, WsServerFactory
from .ws_clients import WsClient, events, expect_close, receive_type, subscribe


async def assert_refused(client: WsClient, code: str, subscription_id: str, says: str) -> None:
    """The next error frame refuses `subscription_id` with `code` and a message that says `says`."""
    answer = await receive_type(client, "error")
    assert (answer["code"], answer["id"]) == (code, subscription_id)
    assert says in answer["message"]


@pytest.mark.parametrize(
    ("sent", "answer_id", "says"),
    [
        ("not json", None, "must be a JSON object"),
        ("[1, 2]", None, "must be a JSON object"),
        ('{"type": "subscribe"}', None, "needs an id"),
        ('{"type": "unsubscribe", "id": ""}', None, "needs an id"),
        ('{"type": "shout"}', None, "unknown message type 'shout'"),
        ('{"type": "auth"}', None, "non-empty string token"),
        ('{"type": "subscribe", "id": "s", "filters": {}}', "s", "unknown key 'filters'"),
        (
            '{"type": "subscribe", "id": "s", "filter": {"colour": ["red"]}}',
            "s",
            "unknown filter key 'colour'",
        ),
        (
            '{"type": "subscribe", "id": "s", "filter": {"entity_types": ["robot"]}}',
            "s",
            "'robot' is not accepted",
        ),
        ('{"type": "subscribe", "id": "s", "filter": {"ids": []}}', "s", "empty list"),
        ('{"type": "subscribe", "id": "s", "filter": [1]}', "s", "must be a JSON object"),
        ('{"type": "subscribe", "id": "s", "since": "12a"}', "s", "not a titanseq"),
        ('{"type": "subscribe", "id": "s", "since": -1}', "s", "not a titanseq"),
        ('{"type": "subscribe", "id": "s", "throttle_ms": -5}', "s", "throttle_ms -5 is not valid"),
        ('{"type": "subscribe", "id": "s", "throttle_ms": 1.5}', "s", "throttle_ms 1.5 is not valid"),
    ],
)
async def test_bad_message_says_what_is_wrong_and_keeps_the_connection(
    ws_server: WsServer, client_kind: str, sent: str, answer_id: str | None, says: str
) -> None:
    client = await ws_server.welcomed(client_kind)

    await client.send(sent)
    answer = await receive_type(client, "error")

    assert answer["code"] == "bad_message"
    assert says in answer["message"]
    assert answer.get("id") == answer_id
    await client.send({"type": "ping"})
    assert await client.receive() == {"type": "pong"}


async def test_binary_frames_are_a_bad_message(ws_server: WsServer, client_kind: str) -> None:
    client = await ws_server.welcomed(client_kind)

    await client.send(b'{"type": "ping"}')

    answer = await receive_type(client, "error")
    assert answer["code"] == "bad_message" and "text frames" in answer["message"]


async def test_unsubscribing_an_unknown_id_is_unknown_subscription(
    ws_server: WsServer, client_kind: str
) -> None:
    client = await ws_server.welcomed(client_kind)

    await client.send({"type": "unsubscribe", "id": "never"})

    assert await receive_type(client, "error") == {
        "type": "error",
        "code": "unknown_subscription",
        "message": "no subscription 'never' on this connection",
        "id": "never",
    }


@pytest.mark.parametrize(
    ("ws", "held", "sent", "code", "says"),
    [
        ({}, ["s"], "s", "bad_message", "in use"),  # an id in use
        ({"max_subscriptions": 2}, ["a", "b"], "c", "too_many_subscriptions", "max_subscriptions"),
    ],
)
async def test_a_subscription_the_connection_cannot_take_is_refused(
    make_ws_server: WsServerFactory,
    client_kind: str,
    ws: dict[str, int],
    held: list[str],
    sent: str,
    code: str,
    says: str,
) -> None:
    server = await make_ws_server(ws=ws)
    client = await server.welcomed(client_kind)
    for subscription_id in held:
        await subscribe(client, subscription_id)

    await client.send({"type": "subscribe", "id": sent})

    await assert_refused(client, code, sent, says)


async def _scoped_reader(make_ws_server: WsServerFactory, client_kind: str) -> tuple[WsServer, WsClient]:
    """A server with the twin (SM_ID, OTHER_SM_ID) loaded, and a welcomed client of the reader whose
    scope is SM_ID alone (the token `scoped-token`)."""
    server = await make_ws_server(tokens=True)
    await server.load_twin()
    return server, await server.welcomed(client_kind, query="?token=scoped-token")


async def test_subscribing_to_a_twin_the_principal_may_not_read_is_forbidden(
    make_ws_server: WsServerFactory, client_kind: str
) -> None:
    _server, client = await _scoped_reader(make_ws_server, client_kind)

    await client.send({"type": "subscribe", "id": "s", "filter": {"ids": [OTHER_SM_ID]}})

    await assert_refused(client, "forbidden", "s", OTHER_SM_ID)


async def test_a_principal_receives_only_events_of_twins_it_may_read(
    make_ws_server: WsServerFactory, client_kind: str
) -> None:
    server, client = await _scoped_reader(make_ws_server, client_kind)

    await subscribe(client, "all", since="0")  # history: the scoped reader may see only SM_ID
    replayed = await events(client, 1)
    await server.set_value("Speed", 1, submodel=OTHER_SM_ID)
    await server.set_value("Speed", 2)
    (live,) = await events(client, 1)

    assert [message["event"]["titanid"] for message in replayed] == [SM_ID]
    assert (live["event"]["titanid"], live["event"]["data"]) == (SM_ID, 2)


async def test_a_message_over_the_size_limit_closes_with_1009(
    make_ws_server: WsServerFactory, client_kind: str
) -> None:
    server = await make_ws_server(ws={"max_message_bytes": 1024})
    client = await server.welcomed(client_kind)

    await client.send({"type": "ping", "padding": "x" * 2000})

    assert (await expect_close(client)).code == 1009


async def test_a_message_just_under_the_size_limit_is_taken(
    make_ws_server: WsServerFactory, client_kind: str
) -> None:
    server = await make_ws_server(ws={"max_message_bytes": 1024})
    client = await server.welcomed(client_kind)

    await client.send('{"type": "ping", "pad": "' + "x" * 990 + '"}')

    assert await client.receive() == {"type": "pong"}


async def test_too_many_messages_per_second_closes_with_4429(
    make_ws_server: WsServerFactory, client_kind: str
) -> None:
    server = await make_ws_server(ws={"messages_per_second": 2, "message_burst": 5})
    client = await server.welcomed(client_kind)

    for _ in range(5):  # the burst is allowed…
        await client.send({"type": "ping"})
        assert await client.receive() == {"type": "pong"}
    for _ in range(3):  # …beyond it, the rate is enforced
        await client.send({"type": "ping"})

    closed = await expect_close(client)
    assert closed.code == 4429
    assert "too many messages" in closed.reason


async def test_the_rate_limit_comes_from_the_ws_section(make_ws_server: WsServerFactory) -> None:
    server = await make_ws_server(ws={"messages_per_second": 1, "message_burst": 1})
    client = await server.welcomed("aiohttp")

    await client.send({"type": "ping"})
    await client.send({"type": "ping"})

    assert await client.receive() == {"type": "pong"}
    assert (await expect_close(client)).code == 4429


async def test_server_shutdown_closes_every_connection_with_1001(
    make_ws_server: WsServerFactory, client_kind: str
) -> None:
    server = await make_ws_server()
    first = await server.welcomed(client_kind)
    second = await server.welcomed(client_kind)
    await subscribe(second, "s")
    readers = [asyncio.create_task(expect_close(client)) for client in (first, second)]

    started = time.monotonic()
    await server.server.close()

    for closed in await asyncio.gather(*readers):
        assert (closed.code, closed.reason) == (1001, "server shutting down")
    # The clients answered the close frame, so the shutdown did not wait out the close timeout.
    assert time.monotonic() - started < 2


async def test_history_only_redis_holds_while_redis_is_away_is_unavailable(
    make_ws_server: WsServerFactory, settings: Settings, throwaway_redis: ThrowawayRedis, client_kind: str
) -> None:
    on_redis = settings.replace(bus=throwaway_redis.url)
    first = await make_ws_server(on_redis)
    await first.load_twin()
    await first.server.close()
    # A second instance keeps only what was published after it started; older history is on Redis.
    second = await make_ws_server(on_redis)
    client = await second.welcomed(client_kind)
    throwaway_redis.stop()

    await client.send({"type": "subscribe", "id": "old", "since": "0"})

    await assert_refused(client, "unavailable", "old", "not reachable")


async def test_heartbeats_drop_a_peer_that_does_not_answer_pings(make_ws_server: WsServerFactory) -> None:
    server = await make_ws_server(ws={"heartbeat": 0.4})
    parts = urlsplit(server.ws_url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        f"GET /ws/events HTTP/1.1\r\nHost: {parts.netloc}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 101")

    # A dead peer: it never answers the server's ping frames (opcode 0x9), so the server hangs up.
    started = time.monotonic()
    received = await asyncio.wait_for(reader.read(-1), timeout=5)  # until the server closes
    writer.close()

    assert time.monotonic() - started < 3
    opcodes = set()
    while received:
        opcode, length = received[0] & 0x0F, received[1] & 0x7F
        opcodes.add(opcode)
        received = received[2 + length :]  # the welcome and pings are short: 7-bit lengths
    assert opcodes >= {0x1, 0x9}  # the welcome (text) and at least one ping

"""Resuming with `since`: the missed events exactly once, in order, then live ones; `history_expired`
past retention; and no gap or duplicate where history hands over to live, even under writes."""

from __future__ import annotations

import asyncio

from titan_core.settings import Settings

from .helpers import WsServer, WsServerFactory
from .ws_clients import events, no_message, receive_type, subscribe


async def test_a_client_that_reconnects_with_since_gets_exactly_the_100_missed_events_then_live_ones(
    ws_server: WsServer, client_kind: str
) -> None:
    client = await ws_server.connect(client_kind)
    welcome = await receive_type(client, "welcome")
    await subscribe(client, "s", since=welcome["head"])
    await ws_server.set_value("Speed", -1)  # (0 is its value already: no change, no event)
    (seen,) = await events(client, 1)
    last_seen = seen["event"]["titanseq"]
    await client.close()

    for value in range(1, 101):
        await ws_server.set_value("Speed", value)
    resumed = await ws_server.welcomed(client_kind)
    await subscribe(resumed, "s", since=last_seen)
    missed = await events(resumed, 100)
    await ws_server.set_value("Temperature", 99.5)
    (live,) = await events(resumed, 1)

    first = int(last_seen) + 1
    assert [int(message["event"]["titanseq"]) for message in missed] == list(range(first, first + 100))
    assert [message["event"]["data"] for message in missed] == list(range(1, 101))
    assert (int(live["event"]["titanseq"]), live["event"]["data"]) == (first + 100, 99.5)
    await no_message(resumed)


async def test_since_older_than_retention_is_history_expired(
    make_ws_server: WsServerFactory, settings: Settings, client_kind: str
) -> None:
    server = await make_ws_server(settings.replace(event_retention=10))
    await server.load_twin()
    for value in range(1, 31):
        await server.set_value("Speed", value)
    await server.published(33)
    client = await server.connect(client_kind)
    welcome = await receive_type(client, "welcome")

    await client.send({"type": "subscribe", "id": "old", "since": "2"})
    answer = await receive_type(client, "error")

    assert (answer["code"], answer["id"]) == ("history_expired", "old")
    assert f"the oldest is {welcome['oldest']}" in answer["message"]
    # The subscription was not made: the id is free, and the oldest retained position works.
    await subscribe(client, "old", since=str(int(welcome["oldest"]) - 1))
    assert len(await events(client, 10)) == 10


async def test_history_hands_over_to_live_without_gap_or_duplicate_under_concurrent_writes(
    ws_server: WsServer, client_kind: str
) -> None:
    for value in range(1, 151):  # history to replay (more than one replay chunk with the events before)
        await ws_server.set_value("Speed", value)
    head_before = 3 + 150
    await ws_server.published(head_before)

    async def writer(path: str, values: range) -> None:
        for value in values:
            await ws_server.set_value(path, value)

    client = await ws_server.welcomed(client_kind)
    writers = [
        asyncio.create_task(writer("Speed", range(1000, 1100))),
        asyncio.create_task(writer("SpeedLimit", range(2000, 2100))),
    ]
    await asyncio.sleep(0.05)  # subscribe while the writes are under way
    await subscribe(client, "all", since="0")
    await asyncio.gather(*writers)
    head = head_before + 200
    await ws_server.published(head)

    received = await events(client, head, timeout=20)

    assert [int(message["event"]["titanseq"]) for message in received] == list(range(1, head + 1))
    await no_message(client)

"""Every message type of `/ws/events` (DESIGN §4) against a live server, with both client libraries."""

from __future__ import annotations

import json

from titan_core import __version__
from titan_core.model.identifiers import encode_identifier

from .helpers import SHELL_ID, SM_ID, WsServer
from .ws_clients import events, no_message, receive_type, subscribe


async def test_welcome_names_head_oldest_server_and_version(ws_server: WsServer, client_kind: str) -> None:
    client = await ws_server.connect(client_kind)

    welcome = await receive_type(client, "welcome")

    # load_twin wrote two submodels and a shell: three events, all retained.
    assert welcome == {"type": "welcome", "head": "3", "oldest": "1", "server": "titan-aas",
                       "version": __version__}  # fmt: skip


async def test_subscribe_is_answered_and_live_events_follow(ws_server: WsServer, client_kind: str) -> None:
    client = await ws_server.welcomed(client_kind)

    assert await subscribe(client, "s1") == {"type": "subscribed", "id": "s1"}
    await ws_server.set_value("Temperature", 21.5)
    (message,) = await events(client, 1)

    assert set(message) == {"type", "subscription", "event"}
    assert message["subscription"] == "s1"
    event = message["event"]
    assert event["type"] == "io.admin-shell.events.v1.valueChanged"
    assert (event["titanid"], event["titanpath"], event["data"]) == (SM_ID, "Temperature", 21.5)
    assert event["titanseq"] == "4"


async def test_event_message_carries_the_envelope_text_unchanged(
    ws_server: WsServer, client_kind: str
) -> None:
    """The event is the published envelope, byte for byte (serialised once, wrapped by concatenation)."""
    client = await ws_server.welcomed(client_kind)
    await subscribe(client, "s1", since="0")
    replayed = await events(client, 3)

    async with ws_server.http.get(ws_server.url("/events?after=0")) as response:
        feed = await response.json()

    assert [message["event"] for message in replayed] == feed["result"]


async def test_a_subscription_without_since_starts_after_the_head(
    ws_server: WsServer, client_kind: str
) -> None:
    client = await ws_server.welcomed(client_kind)
    await subscribe(client, "live")

    # no-assert: no_message fails when any message arrives
    await no_message(client)  # the three events before the subscription are not replayed


async def test_ping_is_answered_with_pong(ws_server: WsServer, client_kind: str) -> None:
    client = await ws_server.welcomed(client_kind)

    await client.send({"type": "ping"})

    assert await client.receive() == {"type": "pong"}


async def test_several_subscriptions_each_get_their_matching_events(
    ws_server: WsServer, client_kind: str
) -> None:
    client = await ws_server.welcomed(client_kind)
    await subscribe(client, "temperature", filter={"paths": ["Temperature"]})
    await subscribe(client, "everything")

    await ws_server.set_value("Temperature", 30.0)
    await ws_server.set_value("Speed", 7)
    received = await events(client, 3)

    by_subscription = [(message["subscription"], message["event"]["titanpath"]) for message in received]
    assert sorted(by_subscription) == [("everything", "Speed"), ("everything", "Temperature"),
                                       ("temperature", "Temperature")]  # fmt: skip
    await no_message(client)


async def test_unsubscribe_stops_that_subscription_only(ws_server: WsServer, client_kind: str) -> None:
    client = await ws_server.welcomed(client_kind)
    await subscribe(client, "a")
    await subscribe(client, "b")

    await client.send({"type": "unsubscribe", "id": "a"})
    await no_message(client)  # processed in order: nothing for "a" after the pong
    await ws_server.set_value("Speed", 3)

    (message,) = await events(client, 1)
    assert message["subscription"] == "b"
    await no_message(client)


async def test_an_unsubscribed_id_can_be_used_again(ws_server: WsServer, client_kind: str) -> None:
    client = await ws_server.welcomed(client_kind)
    await subscribe(client, "a", filter={"paths": ["Speed"]})
    await client.send({"type": "unsubscribe", "id": "a"})

    await subscribe(client, "a", filter={"paths": ["Temperature"]})
    await ws_server.set_value("Speed", 1)
    await ws_server.set_value("Temperature", 1.5)

    (message,) = await events(client, 1)
    assert (message["subscription"], message["event"]["titanpath"]) == ("a", "Temperature")


async def test_since_replays_history_exclusively_then_goes_live(
    ws_server: WsServer, client_kind: str
) -> None:
    client = await ws_server.welcomed(client_kind)

    await subscribe(client, "s", since="1")
    replayed = await events(client, 2)
    await ws_server.set_value("Speed", 9)
    (live,) = await events(client, 1)

    assert [message["event"]["titanseq"] for message in replayed] == ["2", "3"]
    assert live["event"]["titanseq"] == "4"


async def test_since_may_be_a_json_number(ws_server: WsServer, client_kind: str) -> None:
    client = await ws_server.welcomed(client_kind)

    await subscribe(client, "s", since=2)

    (message,) = await events(client, 1)
    assert message["event"]["titanseq"] == "3"


async def test_welcome_head_as_since_misses_nothing_written_between(
    ws_server: WsServer, client_kind: str
) -> None:
    client = await ws_server.connect(client_kind)
    welcome = await receive_type(client, "welcome")
    await ws_server.set_value("Speed", 5)  # after the welcome, before the subscription

    await subscribe(client, "s", since=welcome["head"])

    (message,) = await events(client, 1)
    assert (message["event"]["titanpath"], message["event"]["data"]) == ("Speed", 5)


async def test_events_of_a_shell_write_reach_the_subscriber(ws_server: WsServer, client_kind: str) -> None:
    client = await ws_server.welcomed(client_kind)
    await subscribe(client, "s")

    await ws_server.write("DELETE", f"/shells/{encode_identifier(SHELL_ID)}", expect=204)

    (message,) = await events(client, 1)
    assert message["event"]["type"].endswith(".deleted")
    assert message["event"]["source"] == f"/shells/{encode_identifier(SHELL_ID)}"


async def test_a_plain_http_get_is_told_this_is_a_websocket_endpoint(ws_server: WsServer) -> None:
    async with ws_server.http.get(ws_server.url("/ws/events")) as response:
        body = await response.text()

    assert response.status == 400
    assert "WebSocket endpoint" in json.loads(body)["messages"][0]["text"]

"""`"profile":"async-aas"` on a subscription: the async-aas envelope (validated against the async-aas
AsyncAPI schemas), with `titanseq` so that `since` still works, live and on resume; titan beside it."""

from __future__ import annotations

import json

from tests.support.async_aas import assert_async_aas_event
from titan_core.model.identifiers import encode_identifier

from .helpers import PUBLIC_BASE, SM_ID, WsServer
from .ws_clients import events, receive_type, subscribe


async def test_async_aas_and_titan_subscriptions_side_by_side_live_and_resumed(
    public_ws_server: WsServer, client_kind: str
) -> None:
    client = await public_ws_server.connect(client_kind)
    welcome = await receive_type(client, "welcome")
    await subscribe(client, "aas", since=welcome["head"], profile="async-aas")
    await subscribe(client, "titan", since=welcome["head"])

    await public_ws_server.set_value("Speed", 7)
    received = {message["subscription"]: message["event"] for message in await events(client, 2)}

    event = received["aas"]
    assert_async_aas_event(json.dumps(event).encode(), entity="element", kind="valueChanged")
    assert event["source"] == f"{PUBLIC_BASE}/submodels/{encode_identifier(SM_ID)}/submodel-elements/Speed"
    assert (event["data"]["idShort"], event["data"]["value"]) == ("Speed", "7")
    assert event["titanseq"] == received["titan"]["titanseq"]
    assert received["titan"]["data"] == 7 and "titanpath" in received["titan"]
    await client.close()

    # Resume from before that event: history goes out in the async-aas form too.
    resumed = await public_ws_server.welcomed(client_kind)
    await subscribe(resumed, "again", since=welcome["head"], profile="async-aas")
    (replayed,) = await events(resumed, 1)
    assert replayed["event"] == event


async def test_an_unknown_profile_is_refused_with_the_accepted_ones(
    ws_server: WsServer, client_kind: str
) -> None:
    client = await ws_server.welcomed(client_kind)
    await client.send({"type": "subscribe", "id": "x", "profile": "basyx"})
    answer = await receive_type(client, "error")
    assert (answer["code"], answer["id"]) == ("bad_message", "x")
    assert "accepted: titan, async-aas" in answer["message"]

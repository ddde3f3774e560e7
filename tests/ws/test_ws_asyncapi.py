"""The frames of the WebSocket endpoint are what its AsyncAPI documents say: an async-aas
subscription (docs/asyncapi/ws-async-aas.yaml) and a titan one (docs/asyncapi.yaml) side by side,
every frame validated against its message schema, and the documents' examples shaped like them."""

from __future__ import annotations

import json
from typing import Any

from tests.support.async_aas import assert_async_aas_event
from tests.support.asyncapi_docs import DOCUMENTS, assert_examples_look_like, assert_payload_matches, examples
from titan_core.model.identifiers import encode_identifier

from .helpers import SM_ID, WsServer
from .ws_clients import events, receive_type

TITAN = DOCUMENTS[("ws", "titan")]
ASYNC_AAS = DOCUMENTS[("ws", "async-aas")]
ELEMENTS = f"/submodels/{encode_identifier(SM_ID)}/submodel-elements"
ENTITY_OF_KIND = {"created": "element", "updated": "element", "deleted": "element", "valueChanged": "element"}


async def test_async_aas_and_titan_frames_match_their_documents(
    public_ws_server: WsServer, client_kind: str
) -> None:
    client = await public_ws_server.connect(client_kind)
    welcome = await receive_type(client, "welcome")
    assert_payload_matches(TITAN, "wsWelcome", welcome)

    requests = {
        "aas": ({"type": "subscribe", "id": "aas", "since": welcome["head"], "profile": "async-aas"},
                ASYNC_AAS, "wsSubscribeAsyncAas"),
        "titan": ({"type": "subscribe", "id": "titan", "since": welcome["head"]}, TITAN, "wsSubscribe"),
    }  # fmt: skip
    for request, document, message in requests.values():
        assert_payload_matches(document, message, request)  # what the documents tell a client to send
        await client.send(request)
        answer = await receive_type(client, "subscribed")
        assert_payload_matches(TITAN, "wsSubscribed", answer)

    await public_ws_server.write("POST", ELEMENTS, {"modelType": "Property", "idShort": "Added", "valueType": "xs:int",
                                          "value": "1"}, expect=201)  # fmt: skip
    await public_ws_server.write("PUT", f"{ELEMENTS}/Added", {"modelType": "Property", "idShort": "Added",
                                                    "valueType": "xs:int", "value": "2"}, expect=204)  # fmt: skip
    await public_ws_server.set_value("Speed", 7)
    await public_ws_server.write("DELETE", f"{ELEMENTS}/Added", expect=204)
    frames = await events(client, 8)

    received: dict[str, list[Any]] = {}
    for frame in frames:
        if frame["subscription"] == "aas":
            assert_payload_matches(ASYNC_AAS, "wsAsyncAasEvent", frame)
            event = frame["event"]
            kind = event["type"].rsplit(".", 1)[-1]
            assert_async_aas_event(json.dumps(event).encode(), entity=ENTITY_OF_KIND[kind], kind=kind)
            received.setdefault("wsAsyncAasEvent", []).append(frame)
        else:
            assert_payload_matches(TITAN, "wsEvent", frame)
            received.setdefault("wsEvent", []).append(frame)
    kinds = [frame["event"]["type"].rsplit(".", 1)[-1] for frame in received["wsAsyncAasEvent"]]
    assert kinds == ["created", "updated", "valueChanged", "deleted"]
    assert len(received["wsEvent"]) == 4
    assert_examples_look_like(ASYNC_AAS, received, client_messages=frozenset({"wsSubscribeAsyncAas"}))
    await client.close()

    # The subscribe examples are accepted as they are.
    again = await public_ws_server.welcomed(client_kind)
    for message, name, example in examples(ASYNC_AAS):
        if message == "wsSubscribeAsyncAas":
            await again.send(example)
            answer = await again.receive()
            assert answer == {"type": "subscribed", "id": example["id"]}, f"example {name}: {answer}"
    await again.close()

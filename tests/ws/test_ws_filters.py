"""Every filter key of a subscription, `throttle_ms`, and how keys combine (DESIGN §4), live."""

from __future__ import annotations

import asyncio
import time

from titan_core.model.identifiers import encode_identifier

from .helpers import OTHER_SM_ID, SHELL_ID, SM_ID, TEMPERATURE_SEMANTIC_ID, WsServer, shell
from .ws_clients import WsClient, events, no_message, subscribe


async def subscribed_client(server: WsServer, kind: str, **fields: object) -> WsClient:
    client = await server.welcomed(kind)
    await subscribe(client, "f", **fields)
    return client


def summary(messages: list[dict[str, object]]) -> list[tuple[object, ...]]:
    return [
        (event["titanentity"], event["titanid"], event.get("titanpath"), event["type"].rsplit(".", 1)[-1])
        for event in (message["event"] for message in messages)  # type: ignore[union-attr]
    ]


async def test_filter_entity_types(ws_server: WsServer, client_kind: str) -> None:
    client = await subscribed_client(ws_server, client_kind, filter={"entity_types": ["shell"]})

    await ws_server.set_value("Speed", 1)
    await ws_server.write(
        "PUT", f"/shells/{encode_identifier(SHELL_ID)}", shell(SHELL_ID, SM_ID, OTHER_SM_ID)
    )

    assert summary(await events(client, 1)) == [("shell", SHELL_ID, None, "updated")]
    await no_message(client)


async def test_filter_ids_take_raw_identifiers(ws_server: WsServer, client_kind: str) -> None:
    client = await subscribed_client(ws_server, client_kind, filter={"ids": [OTHER_SM_ID]})

    await ws_server.set_value("Speed", 1)
    await ws_server.set_value("Speed", 2, submodel=OTHER_SM_ID)

    assert summary(await events(client, 1)) == [("element", OTHER_SM_ID, "Speed", "valueChanged")]
    await no_message(client)


async def test_filter_shell_ids_cover_the_shell_and_the_submodels_it_references(
    ws_server: WsServer, client_kind: str
) -> None:
    client = await subscribed_client(ws_server, client_kind, filter={"shell_ids": [SHELL_ID]})

    await ws_server.set_value("Speed", 1, submodel=OTHER_SM_ID)  # not referenced (yet)
    await ws_server.set_value("Speed", 2)
    # The shell starts referencing the other submodel: its events count from then on.
    await ws_server.write(
        "PUT", f"/shells/{encode_identifier(SHELL_ID)}", shell(SHELL_ID, SM_ID, OTHER_SM_ID)
    )
    await ws_server.set_value("Speed", 3, submodel=OTHER_SM_ID)

    assert summary(await events(client, 3)) == [
        ("element", SM_ID, "Speed", "valueChanged"),
        ("shell", SHELL_ID, None, "updated"),
        ("element", OTHER_SM_ID, "Speed", "valueChanged"),
    ]
    await no_message(client)


async def test_filter_paths_are_prefixes_on_segment_boundaries(ws_server: WsServer, client_kind: str) -> None:
    client = await subscribed_client(ws_server, client_kind, filter={"paths": ["Motor", "Speed"]})

    await ws_server.set_value("Motor.Current", 2.5)  # covered by Motor
    await ws_server.set_value("SpeedLimit", 120)  # not covered by Speed: not on a segment boundary
    await ws_server.set_value("Speed", 4)
    await ws_server.set_value("Temperature", 22.0)

    assert summary(await events(client, 2)) == [
        ("element", SM_ID, "Motor.Current", "valueChanged"),
        ("element", SM_ID, "Speed", "valueChanged"),
    ]
    await no_message(client)


async def test_filter_types(ws_server: WsServer, client_kind: str) -> None:
    client = await subscribed_client(ws_server, client_kind, filter={"types": ["deleted"]})

    await ws_server.set_value("Speed", 1)
    await ws_server.write("DELETE", f"/submodels/{encode_identifier(SM_ID)}/submodel-elements/SpeedLimit")

    assert summary(await events(client, 1)) == [("element", SM_ID, "SpeedLimit", "deleted")]
    await no_message(client)


async def test_filter_semantic_ids(ws_server: WsServer, client_kind: str) -> None:
    client = await subscribed_client(
        ws_server, client_kind, filter={"semantic_ids": [TEMPERATURE_SEMANTIC_ID]}
    )

    await ws_server.set_value("Speed", 1)
    await ws_server.set_value("Temperature", 25.0)

    (message,) = await events(client, 1)
    assert message["event"]["semanticid"] == TEMPERATURE_SEMANTIC_ID
    assert message["event"]["titanpath"] == "Temperature"
    await no_message(client)


async def test_filter_keys_combine_with_and_and_list_items_with_or(
    ws_server: WsServer, client_kind: str
) -> None:
    client = await subscribed_client(
        ws_server,
        client_kind,
        filter={"ids": [SM_ID], "paths": ["Temperature", "Speed"], "types": ["valueChanged"]},
    )

    await ws_server.set_value("Temperature", 26.0, submodel=OTHER_SM_ID)  # other id
    await ws_server.set_value("SpeedLimit", 90)  # other path
    await ws_server.set_value("Temperature", 27.0)
    await ws_server.set_value("Speed", 8)

    assert summary(await events(client, 2)) == [
        ("element", SM_ID, "Temperature", "valueChanged"),
        ("element", SM_ID, "Speed", "valueChanged"),
    ]
    await no_message(client)


async def test_throttle_ms_sends_the_first_change_then_only_the_newest_per_element(
    ws_server: WsServer, client_kind: str
) -> None:
    # Four seconds: the six writes must fit in one interval, and on a slow, busy machine they once
    # took 2.6 s.
    client = await subscribed_client(ws_server, client_kind, throttle_ms=4000)

    started = time.monotonic()
    for value in (1, 2, 3, 4, 5):
        await ws_server.set_value("Speed", value)
    await ws_server.set_value("Temperature", 30.0)  # another element: its own interval
    writes_took = time.monotonic() - started

    first, other = await events(client, 2)
    newest = (await events(client, 1, timeout=8))[0]
    assert writes_took < 4.0, "the writes must fit in one throttle interval for this test to mean anything"
    assert (first["event"]["titanpath"], first["event"]["data"]) == ("Speed", 1)
    assert (other["event"]["titanpath"], other["event"]["data"]) == ("Temperature", 30.0)
    assert (newest["event"]["titanpath"], newest["event"]["data"]) == ("Speed", 5)
    assert time.monotonic() - started >= 3.9  # held until the interval was over
    await asyncio.sleep(0.1)
    await no_message(client, within=1.0)


async def test_throttle_releases_a_held_change_before_another_event_of_that_element(
    ws_server: WsServer, client_kind: str
) -> None:
    client = await subscribed_client(ws_server, client_kind, throttle_ms=60_000)

    await ws_server.set_value("Speed", 1)
    await ws_server.set_value("Speed", 2)  # held for a minute…
    await ws_server.write("DELETE", f"/submodels/{encode_identifier(SM_ID)}/submodel-elements/Speed")

    received = await events(client, 3)  # …but released before the delete, so order is kept
    assert [(m["event"]["type"].rsplit(".", 1)[-1], m["event"].get("data")) for m in received][:2] == [
        ("valueChanged", 1),
        ("valueChanged", 2),
    ]
    assert received[2]["event"]["type"].endswith(".deleted")

"""`GET /events`: history, paging, filters, long-polling, 410 past retention; `X-Titan-Seq` on REST GETs."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from tests.support.app import AppClient
from tests.support.twins import submodel_reference
from titan_core.settings import Settings
from titan_core.testing import TitanClients

from .helpers import (
    ELEMENTS,
    SHELL_ID,
    SM2_ID,
    SM_ID,
    b64,
    call,
    prop,
    publish_speed_writes,
    read_events,
    shell,
    submodel,
    summary,
    wait_events,
)

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


async def _populate(client: AppClient) -> list[dict[str, Any]]:
    await call(client, "POST", "/shells", 201, json=shell(submodels=[SM_ID]))
    await call(client, "POST", "/submodels", 201, json=submodel())
    await call(
        client, "POST", "/submodels", 201, json=submodel(SM2_ID, [prop("Boxer", "1"), prop("Other", "1")])
    )
    await call(client, "PATCH", f"{ELEMENTS}/Temperature/$value", 204, json=30.0)
    await call(client, "PATCH", f"{ELEMENTS}/Box.Inner/$value", 204, json=4)
    await call(client, "PATCH", f"/submodels/{b64(SM2_ID)}/submodel-elements/Boxer/$value", 204, json=2)
    return await wait_events(client, 0, 6)


async def test_events_come_in_titanseq_order_and_page_by_cursor(titan_client: AppClient) -> None:
    everything = await _populate(titan_client)
    assert [int(e["titanseq"]) for e in everything] == [1, 2, 3, 4, 5, 6]
    first, cursor = await read_events(titan_client, after=0, limit=4)
    assert [e["titanseq"] for e in first] == ["1", "2", "3", "4"] and cursor == "4"
    rest, cursor = await read_events(titan_client, after=cursor, limit=4)
    assert [e["titanseq"] for e in rest] == ["5", "6"] and cursor == "6"
    nothing, cursor = await read_events(titan_client, after=6)
    assert nothing == [] and cursor == "6"
    all_retained, _ = await read_events(titan_client)  # no `after`: from the oldest retained event
    assert len(all_retained) == 6


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"entity_types": "shell"}, [("created", "shell", None)]),
        ({"entity_types": "shell,element"}, [("created", "shell", None), ("valueChanged", "element", "Temperature"),
                                             ("valueChanged", "element", "Box.Inner"),
                                             ("valueChanged", "element", "Boxer")]),
        ({"types": "io.admin-shell.events.v1.created", "ids": SM2_ID}, [("created", "submodel", None)]),
        ({"paths": "Box"}, [("valueChanged", "element", "Box.Inner")]),
        ({"paths": "Temperature,Boxer"}, [("valueChanged", "element", "Temperature"),
                                          ("valueChanged", "element", "Boxer")]),
        ({"semantic_ids": "0173-1#02-AAO677#002"}, [("valueChanged", "element", "Temperature")]),
        ({"shell_ids": SHELL_ID, "types": "valueChanged"}, [("valueChanged", "element", "Temperature"),
                                                              ("valueChanged", "element", "Box.Inner")]),
    ],
)  # fmt: skip
async def test_filters_combine_with_and_across_keys_and_or_within_a_list(
    titan_client: AppClient, params: dict[str, str], expected: list[tuple[str, str, str | None]]
) -> None:
    await _populate(titan_client)
    found, cursor = await read_events(titan_client, after=0, **params)
    assert summary(found) == expected
    assert cursor == "6"  # the cursor moves past what the filter skipped


async def test_list_filters_may_also_repeat_the_parameter(titan_client: AppClient) -> None:
    await _populate(titan_client)
    response = await titan_client.get(
        "/events", params=[("after", "0"), ("ids", SM_ID), ("ids", SM2_ID), ("types", "created")]
    )
    body = await response.json()
    assert [e["titanid"] for e in body["result"]] == [SM_ID, SM2_ID]


async def test_shell_filter_follows_submodels_the_shell_references_later(titan_client: AppClient) -> None:
    await _populate(titan_client)
    await call(
        titan_client, "POST", f"/shells/{b64(SHELL_ID)}/submodel-refs", 201, json=submodel_reference(SM2_ID)
    )
    await call(titan_client, "PATCH", f"/submodels/{b64(SM2_ID)}/submodel-elements/Other/$value", 204, json=5)
    found = await wait_events(titan_client, 6, 2, shell_ids=SHELL_ID)
    assert summary(found) == [("updated", "shell", None), ("valueChanged", "element", "Other")]


async def test_wait_long_polls_until_an_event_arrives(titan_client: AppClient) -> None:
    await call(titan_client, "POST", "/submodels", 201, json=submodel())
    await wait_events(titan_client, 0, 1)

    async def write_soon() -> None:
        await asyncio.sleep(0.3)
        await call(titan_client, "PATCH", f"{ELEMENTS}/Speed/$value", 204, json=42)

    started = time.monotonic()
    writer = asyncio.create_task(write_soon())
    found, cursor = await read_events(titan_client, after=1, wait=10)
    await writer
    assert summary(found) == [("valueChanged", "element", "Speed")] and cursor == "2"
    assert time.monotonic() - started < 5


async def test_wait_returns_empty_when_nothing_comes(titan_client: AppClient) -> None:
    started = time.monotonic()
    found, cursor = await read_events(titan_client, after=0, wait=0.3)
    assert found == [] and cursor == "0"
    assert 0.25 <= time.monotonic() - started < 3


async def test_after_older_than_retention_is_410_with_the_idta_error_body(
    make_titan_client: TitanClients, settings: Settings
) -> None:
    client = await make_titan_client(settings.replace(event_retention=3))
    await publish_speed_writes(client, 5)
    response = await client.get("/events", params={"after": "1"})
    assert response.status == 410
    body = await response.json()
    assert "no longer retained" in body["messages"][0]["text"] and body["messages"][0]["code"] == "410"
    kept, _ = await read_events(client, after=3)
    assert [e["titanseq"] for e in kept] == ["4", "5", "6"]


@pytest.mark.parametrize(
    ("query", "fragment"),
    [
        ("after=abc", "after"),
        ("limit=0", "limit"),
        ("wait=-1", "wait"),
        ("entity_type=shell", "unknown query parameter key 'entity_type'"),
        ("entity_types=twin", "'twin' is not accepted"),
        ("types=changed", "'changed' is not accepted"),
        ("paths=a..b", "paths"),
    ],
)
async def test_bad_feed_parameters_are_400_saying_what_is_accepted(
    titan_client: AppClient, query: str, fragment: str
) -> None:
    response = await titan_client.get(f"/events?{query}")
    assert response.status == 400
    assert fragment in (await response.json())["messages"][0]["text"]


async def test_rest_gets_carry_the_newest_titanseq_and_reading_then_following_has_no_gap(
    titan_client: AppClient,
) -> None:
    response = await titan_client.get("/shells")
    assert response.headers["X-Titan-Seq"] == "0"
    await call(titan_client, "POST", "/submodels", 201, json=submodel())
    await wait_events(titan_client, 0, 1)
    read = await titan_client.get(f"/submodels/{b64(SM_ID)}")
    seq = read.headers["X-Titan-Seq"]
    assert seq == "1"
    missing = await titan_client.get(f"/submodels/{b64(SM2_ID)}")
    assert missing.status == 404 and missing.headers["X-Titan-Seq"] == "1"
    posted = await titan_client.post(
        "/concept-descriptions", json={"modelType": "ConceptDescription", "id": "x"}
    )
    assert "X-Titan-Seq" not in posted.headers
    await call(titan_client, "PATCH", f"{ELEMENTS}/Speed/$value", 204, json=5)
    after_read = await wait_events(titan_client, int(seq), 1, ids=SM_ID)
    assert summary(after_read) == [("valueChanged", "element", "Speed")]


async def test_history_survives_a_restart_on_the_memory_bus(
    make_titan_client: TitanClients, settings: Settings
) -> None:
    first = await make_titan_client()
    await call(first, "POST", "/submodels", 201, json=submodel())
    await call(first, "PATCH", f"{ELEMENTS}/Speed/$value", 204, json=5)
    before = await wait_events(first, 0, 2)
    await first.close()
    second = await make_titan_client()
    again, _ = await read_events(second, after=0)
    assert [e["id"] for e in again] == [e["id"] for e in before]
    await call(second, "PATCH", f"{ELEMENTS}/Speed/$value", 204, json=6)
    (newer,) = await wait_events(second, 2, 1)
    assert newer["titanseq"] == "3"

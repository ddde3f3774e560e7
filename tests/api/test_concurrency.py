"""Concurrent writers: no write is lost, If-Match lets exactly one of competing writers win, races never 500."""

from __future__ import annotations

import asyncio
from collections import Counter

from tests.support.app import AppClient

from .helpers import (
    SM_ID,
    created,
    element_url,
    get_json,
    prop,
    submodel,
    submodel_url,
)

WRITERS = 30
MANY_SM = "https://example.com/ids/sm/many"


async def test_concurrent_value_writes_to_different_elements_are_all_kept(app_client: AppClient) -> None:
    await created(
        app_client, "/submodels", submodel(MANY_SM, *(prop(f"P{i}", "0", "xs:int") for i in range(WRITERS)))
    )
    responses = await asyncio.gather(
        *(app_client.patch(element_url(MANY_SM, f"P{i}/$value"), json=i + 1) for i in range(WRITERS))
    )
    assert [response.status for response in responses] == [204] * WRITERS
    values = await get_json(app_client, f"{submodel_url(MANY_SM)}/$value")
    assert values == {f"P{i}": i + 1 for i in range(WRITERS)}


async def test_concurrent_element_posts_are_all_kept(loaded_client: AppClient) -> None:
    responses = await asyncio.gather(
        *(
            loaded_client.post(f"{submodel_url(SM_ID)}/submodel-elements", json=prop(f"New{i}", str(i)))
            for i in range(WRITERS)
        ),
        *(loaded_client.patch(element_url(SM_ID, "Speed/$value"), json=i) for i in range(WRITERS)),
    )
    assert Counter(response.status for response in responses) == {201: WRITERS, 204: WRITERS}
    paths = await get_json(loaded_client, f"{submodel_url(SM_ID)}/$path")
    assert {f"New{i}" for i in range(WRITERS)} <= set(paths)


async def test_only_one_of_competing_if_match_writers_wins(loaded_client: AppClient) -> None:
    etag = (await loaded_client.get(submodel_url(SM_ID))).headers["ETag"]
    value_writes = [
        loaded_client.patch(element_url(SM_ID, "Speed/$value"), json=2000 + i, headers={"If-Match": etag})
        for i in range(WRITERS)
    ]
    responses = await asyncio.gather(*value_writes)
    assert Counter(response.status for response in responses) == {204: 1, 412: WRITERS - 1}
    winner = next(i for i, response in enumerate(responses) if response.status == 204)
    assert (await get_json(loaded_client, element_url(SM_ID, "Speed")))["value"] == str(2000 + winner)

    etag = (await loaded_client.get(submodel_url(SM_ID))).headers["ETag"]
    structural_writes = [
        loaded_client.put(
            element_url(SM_ID, "Name"), json=prop("Name", f"writer {i}"), headers={"If-Match": etag}
        )
        for i in range(WRITERS)
    ]
    responses = await asyncio.gather(*structural_writes)
    assert Counter(response.status for response in responses) == {204: 1, 412: WRITERS - 1}


async def test_racing_creates_of_one_id_give_one_201_and_no_500(app_client: AppClient) -> None:
    posts = await asyncio.gather(
        *(app_client.post("/submodels", json=submodel("urn:sm:race")) for _ in range(10))
    )
    assert Counter(response.status for response in posts) == {201: 1, 409: 9}
    puts = await asyncio.gather(
        *(
            app_client.put(submodel_url("urn:sm:race-put"), json=submodel("urn:sm:race-put"))
            for _ in range(10)
        )
    )
    statuses = Counter(response.status for response in puts)
    # PUT is idempotent: one creates, the others replace (with the same content).
    assert statuses == {201: 1, 204: 9}, statuses

"""Every 201 names the new resource in a `Location` header (Part 2: "URL of the newly created resource")."""

from __future__ import annotations

from typing import Any

from aiohttp import ClientResponse
from yarl import URL

from tests.support.app import AppClient

from .helpers import (
    SM_ID,
    b64,
    cd_url,
    collection,
    concept_description,
    element_url,
    prop,
    shell,
    shell_url,
    submodel,
    submodel_ref,
    submodel_url,
)


async def _assert_location(
    client: AppClient, response: ClientResponse, expected_path: str, body: Any
) -> None:
    assert response.status == 201, await response.text()
    location = response.headers.get("Location")
    assert location, f"201 without a Location header (expected {expected_path})"
    assert URL(location).path == URL(expected_path).path
    found = await client.get(URL(location).path_qs if URL(location).is_absolute() else location)
    assert found.status == 200, await found.text()
    assert await found.json() == body


async def test_created_resources_are_named_by_location(loaded_client: AppClient) -> None:
    client = loaded_client
    new_sm = submodel("urn:sm:new", prop("P", "1"))
    await _assert_location(
        client, await client.post("/submodels", json=new_sm), submodel_url("urn:sm:new"), new_sm
    )
    new_shell = shell("urn:aas:new")
    await _assert_location(
        client, await client.post("/shells", json=new_shell), shell_url("urn:aas:new"), new_shell
    )
    new_cd = concept_description("urn:cd:new")
    response = await client.post("/concept-descriptions", json=new_cd)
    await _assert_location(client, response, cd_url("urn:cd:new"), new_cd)

    element = prop("Added", "x")
    response = await client.post(f"{submodel_url(SM_ID)}/submodel-elements", json=element)
    await _assert_location(client, response, element_url(SM_ID, "Added"), element)
    item = collection(None, prop("Note", "fourth"))
    response = await client.post(element_url(SM_ID, "Maintenance.Records"), json=item)
    await _assert_location(client, response, element_url(SM_ID, "Maintenance.Records[3]"), item)
    response = await client.put(element_url(SM_ID, "Maintenance.Owner"), json=prop("Owner", "y"))
    await _assert_location(client, response, element_url(SM_ID, "Maintenance.Owner"), prop("Owner", "y"))
    reference = submodel_ref("urn:sm:new")
    response = await client.post(f"{shell_url('urn:aas:new')}/submodel-refs", json=reference)
    assert response.status == 201, await response.text()
    location = response.headers.get("Location")
    assert location and URL(location).path == f"{shell_url('urn:aas:new')}/submodel-refs/{b64('urn:sm:new')}"
    put_created = submodel("urn:sm:put")
    response = await client.put(submodel_url("urn:sm:put"), json=put_created)
    await _assert_location(client, response, submodel_url("urn:sm:put"), put_created)

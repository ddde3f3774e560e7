"""Concept Description Repository writes end to end, and `/serialization` of what was written."""

from __future__ import annotations

from typing import Any

from tests.support.app import AppClient

from .helpers import (
    CD_ID,
    SHELL_ID,
    SM_ID,
    assert_idta_error,
    b64,
    cd_url,
    concept_description,
    created,
    get_json,
    snapshot,
)


def _iec61360(identifier: str) -> dict[str, Any]:
    document = concept_description(identifier, "Temperature")
    document["isCaseOf"] = [
        {"type": "ExternalReference", "keys": [{"type": "GlobalReference", "value": "0173-1#02-AAO677#002"}]}
    ]
    document["embeddedDataSpecifications"] = [
        {
            "dataSpecification": {
                "type": "ExternalReference",
                "keys": [
                    {
                        "type": "GlobalReference",
                        "value": "https://admin-shell.io/DataSpecificationTemplates/DataSpecificationIEC61360/3/0",
                    }
                ],
            },
            "dataSpecificationContent": {
                "modelType": "DataSpecificationIec61360",
                "preferredName": [{"language": "en", "text": "Temperature"}],
                "definition": [{"language": "en", "text": "Temperature of the medium"}],
                "unit": "°C",
                "dataType": "REAL_MEASURE",
            },
        }
    ]
    return document


async def test_posted_concept_description_is_returned_by_get_and_listed(app_client: AppClient) -> None:
    document = _iec61360(CD_ID)
    response = await app_client.post("/concept-descriptions", json=document)
    assert response.status == 201, await response.text()
    assert response.headers.get("ETag")
    assert await response.json() == document
    assert await get_json(app_client, cd_url(CD_ID)) == document
    assert (await get_json(app_client, "/concept-descriptions"))["result"] == [document]


async def test_duplicate_concept_description_is_409_and_changes_nothing(app_client: AppClient) -> None:
    await created(app_client, "/concept-descriptions", _iec61360(CD_ID))
    before = await snapshot(app_client)
    response = await app_client.post("/concept-descriptions", json=concept_description(CD_ID, "Other"))
    await assert_idta_error(response, 409, CD_ID)
    assert await snapshot(app_client) == before


async def test_put_creates_then_replaces_a_concept_description(app_client: AppClient) -> None:
    first = concept_description(CD_ID, "First")
    response = await app_client.put(cd_url(CD_ID), json=first)
    assert response.status == 201, await response.text()
    assert await response.json() == first
    second = _iec61360(CD_ID)
    response = await app_client.put(cd_url(CD_ID), json=second)
    assert response.status == 204, await response.text()
    assert await get_json(app_client, cd_url(CD_ID)) == second


async def test_deleted_concept_description_is_gone(app_client: AppClient) -> None:
    await created(app_client, "/concept-descriptions", _iec61360(CD_ID))
    assert (await app_client.delete(cd_url(CD_ID))).status == 204
    await assert_idta_error(await app_client.get(cd_url(CD_ID)), 404, CD_ID)
    await assert_idta_error(await app_client.delete(cd_url(CD_ID)), 404, CD_ID)
    assert (await get_json(app_client, "/concept-descriptions"))["result"] == []


async def test_concept_description_routes_work_under_the_alias_prefix(app_client: AppClient) -> None:
    document = _iec61360(CD_ID)
    assert (await app_client.post("/api/v3.0/concept-descriptions", json=document)).status == 201
    assert await get_json(app_client, f"/api/v3.0{cd_url(CD_ID)}") == document


async def test_serialization_returns_what_was_written(loaded_client: AppClient) -> None:
    everything = await get_json(loaded_client, "/serialization")
    assert [item["id"] for item in everything["assetAdministrationShells"]] == [SHELL_ID]
    assert [item["id"] for item in everything["submodels"]] == [SM_ID]
    assert [item["id"] for item in everything["conceptDescriptions"]] == [CD_ID]
    assert everything["submodels"][0] == await get_json(
        loaded_client, f"/submodels/{b64(SM_ID)}?extent=withBlobValue"
    )

    chosen = await get_json(
        loaded_client,
        f"/serialization?aasIds={b64(SHELL_ID)}&submodelIds={b64(SM_ID)}&includeConceptDescriptions=false",
    )
    # An empty section is left out: the schema's lists hold at least one item.
    assert "conceptDescriptions" not in chosen
    assert chosen["submodels"] == everything["submodels"]
    await assert_idta_error(
        await loaded_client.get(f"/serialization?aasIds={b64('urn:none')}"), 404, "urn:none"
    )
    await assert_idta_error(
        await loaded_client.get("/serialization?includeConceptDescriptions=maybe"),
        400,
        "includeConceptDescriptions",
    )

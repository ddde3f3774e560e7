"""Submodel Repository writes end to end: CRUD, PATCH, `$metadata`/`$value` PATCH, the superpaths, Operations."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.app import AppClient

from .helpers import (
    SHELL_ID,
    SM_ID,
    assert_idta_error,
    b64,
    created,
    element_url,
    every_element_submodel,
    get_json,
    prop,
    shell_url,
    snapshot,
    submodel,
    submodel_ref,
    submodel_url,
)

OTHER_SM = "https://example.com/ids/sm/other"


async def test_posted_submodel_is_returned_by_get_and_listed(app_client: AppClient) -> None:
    document = every_element_submodel()
    response = await app_client.post("/submodels", json=document)
    assert response.status == 201, await response.text()
    assert response.headers.get("ETag")
    assert await response.json() == document
    # Blob contents are left out unless asked for (extent=withoutBlobValue is the default).
    without_blob = await get_json(app_client, submodel_url(SM_ID))
    assert without_blob == _without_blob_value(document)
    assert await get_json(app_client, f"{submodel_url(SM_ID)}?extent=withBlobValue") == document
    listed = await get_json(app_client, "/submodels?extent=withBlobValue")
    assert listed["result"] == [document]
    assert await get_json(app_client, f"{submodel_url(SM_ID)}/$reference") == submodel_ref(SM_ID)


async def test_put_of_an_unknown_submodel_creates_it_with_201(app_client: AppClient) -> None:
    document = submodel(SM_ID, prop("A", "1", "xs:int"))
    response = await app_client.put(submodel_url(SM_ID), json=document)
    assert response.status == 201, await response.text()
    assert await response.json() == document
    assert await get_json(app_client, submodel_url(SM_ID)) == document


async def test_put_of_an_existing_submodel_replaces_it_with_204(app_client: AppClient) -> None:
    await created(app_client, "/submodels", every_element_submodel())
    replacement = submodel(SM_ID, prop("Only", "x"), id_short="Replaced")
    response = await app_client.put(submodel_url(SM_ID), json=replacement)
    assert response.status == 204, await response.text()
    assert await get_json(app_client, submodel_url(SM_ID)) == replacement


async def test_deleted_submodel_is_gone_with_its_attachments(app_client: AppClient) -> None:
    await created(app_client, "/submodels", every_element_submodel())
    from .helpers import upload

    attachment = f"{element_url(SM_ID, 'Manual')}/attachment"
    assert (await app_client.put(attachment, data=upload(b"%PDF-1.7", "manual.pdf"))).status == 204
    response = await app_client.delete(submodel_url(SM_ID))
    assert response.status == 204, await response.text()
    await assert_idta_error(await app_client.get(submodel_url(SM_ID)), 404, SM_ID)
    await assert_idta_error(await app_client.delete(submodel_url(SM_ID)), 404, SM_ID)
    # A submodel created again under the id starts without the old attachment.
    await created(app_client, "/submodels", every_element_submodel())
    await assert_idta_error(await app_client.get(attachment), 404)


async def test_patch_submodel_changes_the_given_fields_and_keeps_the_rest(app_client: AppClient) -> None:
    document = await created(app_client, "/submodels", every_element_submodel())
    description = [{"language": "en", "text": "Patched"}]
    response = await app_client.patch(submodel_url(SM_ID), json={"description": description})
    assert response.status == 204, await response.text()
    after = await get_json(app_client, f"{submodel_url(SM_ID)}?extent=withBlobValue")
    assert after == {**document, "description": description}


async def test_patch_submodel_refuses_a_different_id_and_invalid_fields(app_client: AppClient) -> None:
    await created(app_client, "/submodels", every_element_submodel())
    before = await snapshot(app_client)
    response = await app_client.patch(submodel_url(SM_ID), json={"id": OTHER_SM})
    await assert_idta_error(response, 400, OTHER_SM)
    response = await app_client.patch(submodel_url(SM_ID), json={"idShort": "not valid!"})
    await assert_idta_error(response, 400, "idShort")
    assert await snapshot(app_client) == before


async def test_metadata_patch_changes_descriptive_fields_only(app_client: AppClient) -> None:
    await created(app_client, "/submodels", every_element_submodel())
    metadata = await get_json(app_client, f"{submodel_url(SM_ID)}/$metadata")
    assert "submodelElements" not in metadata
    assert metadata["id"] == SM_ID and metadata["idShort"] == "EveryElement"

    response = await app_client.patch(
        f"{submodel_url(SM_ID)}/$metadata", json={"idShort": "Renamed", "category": "PARAMETER"}
    )
    assert response.status == 204, await response.text()
    metadata = await get_json(app_client, f"{submodel_url(SM_ID)}/$metadata")
    assert metadata["idShort"] == "Renamed" and metadata["category"] == "PARAMETER"
    full = await get_json(app_client, submodel_url(SM_ID))
    assert len(full["submodelElements"]) == len(every_element_submodel()["submodelElements"])

    before = await snapshot(app_client)
    response = await app_client.patch(f"{submodel_url(SM_ID)}/$metadata", json={"submodelElements": []})
    await assert_idta_error(response, 400, "submodelElements")
    assert await snapshot(app_client) == before


async def test_submodel_value_patch_writes_nested_values(app_client: AppClient) -> None:
    await created(app_client, "/submodels", every_element_submodel())
    value = await get_json(app_client, f"{submodel_url(SM_ID)}/$value")
    assert value["Speed"] == 1500
    assert value["Maintenance"]["Records"][2] == {"Note": "third", "Hours": 12}

    patch = {
        "Speed": 1600,
        "Running": False,
        "Maintenance": {"IntervalDays": 90, "Records": [{"Note": "changed first"}]},
        "Readings": [19.0, 18.5],
    }
    response = await app_client.patch(f"{submodel_url(SM_ID)}/$value", json=patch)
    assert response.status == 204, await response.text()
    after = await get_json(app_client, f"{submodel_url(SM_ID)}/$value")
    assert after["Speed"] == 1600
    assert after["Running"] is False
    assert after["Maintenance"]["IntervalDays"] == 90
    assert [record["Note"] for record in after["Maintenance"]["Records"]] == [
        "changed first",
        "second",
        "third",
    ]
    assert after["Readings"] == [19.0, 18.5]
    # What is not in the patch stays.
    assert after["Name"] == value["Name"] and after["Operating"] == value["Operating"]
    speed = await get_json(app_client, element_url(SM_ID, "Speed"))
    assert speed["value"] == "1600"


async def test_submodel_value_patch_with_one_bad_value_changes_nothing(app_client: AppClient) -> None:
    await created(app_client, "/submodels", every_element_submodel())
    before = await snapshot(app_client)
    response = await app_client.patch(
        f"{submodel_url(SM_ID)}/$value", json={"Name": "fine", "Speed": "fast", "Nope": 1}
    )
    await assert_idta_error(response, 400, "Speed", "xs:int", "Nope")
    assert await snapshot(app_client) == before


@pytest.mark.parametrize("modifier", ["", "/$metadata", "/$value", "/$reference", "/$path"])
async def test_superpath_reads_equal_the_repository_reads(loaded_client: AppClient, modifier: str) -> None:
    direct = await get_json(loaded_client, f"{submodel_url(SM_ID)}{modifier}")
    through_shell = await get_json(loaded_client, f"{shell_url(SHELL_ID)}/submodels/{b64(SM_ID)}{modifier}")
    assert through_shell == direct


async def test_superpath_is_404_when_the_shell_does_not_reference_the_submodel(
    loaded_client: AppClient,
) -> None:
    await created(loaded_client, "/submodels", submodel(OTHER_SM, prop("A", "x")))
    before = await snapshot(loaded_client)
    base = f"{shell_url(SHELL_ID)}/submodels/{b64(OTHER_SM)}"
    await assert_idta_error(await loaded_client.get(base), 404, OTHER_SM)
    await assert_idta_error(await loaded_client.get(f"{base}/submodel-elements/A"), 404, OTHER_SM)
    await assert_idta_error(await loaded_client.patch(f"{base}/submodel-elements/A/$value", json="y"), 404)
    await assert_idta_error(await loaded_client.delete(base), 404)
    await assert_idta_error(await loaded_client.put(base, json=submodel(OTHER_SM)), 404)
    unknown_shell = f"{shell_url('https://example.com/ids/aas/none')}/submodels/{b64(SM_ID)}"
    await assert_idta_error(await loaded_client.get(unknown_shell), 404)
    assert await snapshot(loaded_client) == before


async def test_superpath_writes_reach_the_submodel(loaded_client: AppClient) -> None:
    base = f"{shell_url(SHELL_ID)}/submodels/{b64(SM_ID)}"
    response = await loaded_client.patch(f"{base}/submodel-elements/Speed/$value", json=1234)
    assert response.status == 204, await response.text()
    assert (await get_json(loaded_client, element_url(SM_ID, "Speed")))["value"] == "1234"

    response = await loaded_client.post(f"{base}/submodel-elements", json=prop("Added", "x"))
    assert response.status == 201, await response.text()
    assert (await get_json(loaded_client, element_url(SM_ID, "Added")))["value"] == "x"

    replacement = submodel(SM_ID, prop("Only", "y"))
    response = await loaded_client.put(base, json=replacement)
    assert response.status == 204, await response.text()
    assert await get_json(loaded_client, submodel_url(SM_ID)) == replacement


async def test_superpath_delete_removes_the_submodel_and_the_reference(loaded_client: AppClient) -> None:
    await created(loaded_client, "/submodels", submodel(OTHER_SM))
    refs = f"{shell_url(SHELL_ID)}/submodel-refs"
    assert (await loaded_client.post(refs, json=submodel_ref(OTHER_SM))).status == 201
    response = await loaded_client.delete(f"{shell_url(SHELL_ID)}/submodels/{b64(SM_ID)}")
    assert response.status == 204, await response.text()
    await assert_idta_error(await loaded_client.get(submodel_url(SM_ID)), 404)
    assert (await get_json(loaded_client, refs))["result"] == [submodel_ref(OTHER_SM)]


async def test_superpath_works_under_the_alias_prefix(loaded_client: AppClient) -> None:
    url = (
        f"/api/v3.0{shell_url(SHELL_ID)}/submodels/{b64(SM_ID)}/submodel-elements/Maintenance.Records[2].Note"
    )
    assert (await get_json(loaded_client, url))["value"] == "third"


@pytest.mark.parametrize(
    ("method", "suffix"),
    [
        ("POST", "invoke"),
        ("POST", "invoke/$value"),
        ("POST", "invoke-async"),
        ("POST", "invoke-async/$value"),
        ("GET", "operation-status/aGFuZGxl"),
        ("GET", "operation-results/aGFuZGxl"),
        ("GET", "operation-results/aGFuZGxl/$value"),
    ],
)
async def test_operations_answer_501_with_an_idta_error(
    loaded_client: AppClient, method: str, suffix: str
) -> None:
    before = await snapshot(loaded_client)
    body: Any = {"inputArguments": [], "clientTimeoutDuration": "PT1S"} if method == "POST" else None
    for base in (
        element_url(SM_ID, "Restart"),
        f"{shell_url(SHELL_ID)}/submodels/{b64(SM_ID)}/submodel-elements/Restart",
    ):
        response = await loaded_client.request(method, f"{base}/{suffix}", json=body)
        await assert_idta_error(response, 501, "Operation")
    assert await snapshot(loaded_client) == before


def _without_blob_value(document: dict[str, Any]) -> dict[str, Any]:
    import copy

    result = copy.deepcopy(document)
    for element in result["submodelElements"]:
        if element["modelType"] == "Blob":
            element.pop("value", None)
    return result


async def test_superpath_delete_with_a_stale_if_match_keeps_submodel_and_reference(
    loaded_client: AppClient,
) -> None:
    base = f"{shell_url(SHELL_ID)}/submodels/{b64(SM_ID)}"
    stale = (await loaded_client.get(base)).headers["ETag"]
    assert (await loaded_client.patch(element_url(SM_ID, "Speed/$value"), json=1)).status == 204
    before = await snapshot(loaded_client)
    await assert_idta_error(await loaded_client.delete(base, headers={"If-Match": stale}), 412)
    assert await snapshot(loaded_client) == before


async def test_level_core_and_extent_shape_the_reads(loaded_client: AppClient) -> None:
    core = await get_json(loaded_client, f"{submodel_url(SM_ID)}?level=core")
    # core: the submodel's elements, each without its own children.
    maintenance = next(e for e in core["submodelElements"] if e["idShort"] == "Maintenance")
    assert "value" not in maintenance and maintenance["modelType"] == "SubmodelElementCollection"
    element = await get_json(loaded_client, element_url(SM_ID, "Maintenance?level=core"))
    assert [child["idShort"] for child in element["value"]] == ["IntervalDays", "Records"]
    assert "value" not in element["value"][1]
    firmware = element_url(SM_ID, "Firmware")
    assert "value" not in await get_json(loaded_client, firmware)
    assert (await get_json(loaded_client, f"{firmware}?extent=withBlobValue"))["value"]
    assert await get_json(loaded_client, f"{firmware}/$value") == {"contentType": "application/octet-stream"}


async def test_reference_of_a_nested_list_item_names_every_step(loaded_client: AppClient) -> None:
    reference = await get_json(loaded_client, element_url(SM_ID, "Maintenance.Records[1].Note/$reference"))
    assert reference == {
        "type": "ModelReference",
        "keys": [
            {"type": "Submodel", "value": SM_ID},
            {"type": "SubmodelElementCollection", "value": "Maintenance"},
            {"type": "SubmodelElementList", "value": "Records"},
            {"type": "SubmodelElementCollection", "value": "1"},
            {"type": "Property", "value": "Note"},
        ],
    }


@pytest.mark.parametrize(
    ("path", "metadata", "fragment"),
    [
        ("Speed", {"valueType": "xs:boolean"}, "value"),
        ("Maintenance.Records", {"typeValueListElement": "Property"}, "AASd-108"),
        ("Readings", {"valueTypeListElement": "xs:string"}, "value type"),
    ],
)
async def test_metadata_patch_that_contradicts_the_value_is_refused(
    loaded_client: AppClient, path: str, metadata: dict[str, Any], fragment: str
) -> None:
    before = await snapshot(loaded_client)
    response = await loaded_client.patch(element_url(SM_ID, f"{path}/$metadata"), json=metadata)
    await assert_idta_error(response, 400, fragment)
    assert await snapshot(loaded_client) == before

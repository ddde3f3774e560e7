"""`$value` of submodel elements: every element type's ValueOnly form, read, written, and refused."""

from __future__ import annotations

import base64
from typing import Any

from tests.support.app import AppClient

from .helpers import (
    SM_ID,
    assert_idta_error,
    assert_refused_or_still_valid,
    assert_refused_unchanged,
    element_url,
    etag_of,
    every_element_submodel,
    external_ref,
    get_json,
    model_ref,
    snapshot,
    submodel_url,
)

_SENSOR = external_ref("https://example.com/ids/asset/other_sensor")
_MOTOR = model_ref(("Submodel", SM_ID), ("Entity", "Motor"))

# (idShortPath, a new value in ValueOnly form). GET `$value` must return exactly this afterwards.
NEW_VALUES: list[tuple[str, Any]] = [
    ("Name", "Other Pumps Inc"),
    ("Speed", 1750),
    ("Temperature", 24.25),
    ("Running", False),
    ("Designation", [{"en": "Water pump"}, {"fr": "Pompe"}]),
    ("Operating", {"min": -10, "max": 90}),
    ("Firmware", {"contentType": "text/plain", "value": base64.b64encode(b"v2").decode()}),
    ("Manual", {"contentType": "text/plain", "value": "readme.txt"}),
    ("ManualRef", _SENSOR),
    ("Drives", {"first": _MOTOR, "second": _SENSOR}),
    ("MeasuredBy", {"first": _MOTOR, "second": _SENSOR, "annotations": [{"Accuracy": 0.5}]}),
    (
        "Motor",
        {
            "statements": {"Power": 3.5},
            "entityType": "SelfManagedEntity",
            "globalAssetId": "https://example.com/ids/asset/motor_2",
        },
    ),
    ("Overheat", {"observed": _MOTOR}),
    (
        "Maintenance",
        {"IntervalDays": 30, "Records": [{"Note": "a"}, {"Note": "b"}, {"Note": "c", "Hours": 1}]},
    ),
    ("Maintenance.Records", [{"Note": "x"}, {"Note": "y"}, {"Note": "z", "Hours": 99}]),
    ("Maintenance.Records[2]", {"Note": "deep", "Hours": 5}),
    ("Maintenance.Records[2].Note", "deepest"),
    ("Readings", [1.5, 2.5]),
    ("Readings[1]", 3.25),
    ("Motor.Power", 9.75),
    ("MeasuredBy.Accuracy", 0.01),
]


async def _value_of(client: AppClient, path: str) -> Any:
    return await get_json(client, element_url(SM_ID, f"{path}/$value?extent=withBlobValue"))


async def test_value_patch_writes_every_element_type(loaded_client: AppClient) -> None:
    # Each write is checked right after it: later ones (a container) may overwrite earlier ones.
    for path, value in NEW_VALUES:
        response = await loaded_client.patch(element_url(SM_ID, f"{path}/$value"), json=value)
        assert response.status == 204, f"{path}: {await response.text()}"
        assert await _value_of(loaded_client, path) == value, path


async def test_value_patch_still_accepts_the_keyed_form_earlier_versions_returned(
    loaded_client: AppClient,
) -> None:
    """`{idShort: value}`, what GET `$value` gave before it followed the OpenAPI, is still written."""
    for path, value in NEW_VALUES:
        if path.endswith("]"):
            continue  # list items have no idShort: their value was always bare
        id_short = path.rsplit(".", 1)[-1]
        response = await loaded_client.patch(element_url(SM_ID, f"{path}/$value"), json={id_short: value})
        assert response.status == 204, f"{path}: {await response.text()}"
        assert await _value_of(loaded_client, path) == value, path


async def test_a_keyed_body_that_is_a_valid_bare_value_is_read_as_the_bare_value(
    loaded_client: AppClient,
) -> None:
    """A collection holding a child of its own name: `{"Box": 7}` is the child's value, not a wrapper."""
    box = {
        "modelType": "SubmodelElementCollection",
        "idShort": "Box",
        "value": [{"modelType": "Property", "idShort": "Box", "valueType": "xs:int", "value": "1"}],
    }
    assert (await loaded_client.post(f"{submodel_url(SM_ID)}/submodel-elements", json=box)).status == 201
    response = await loaded_client.patch(element_url(SM_ID, "Box/$value"), json={"Box": 7})
    assert response.status == 204, await response.text()
    assert await _value_of(loaded_client, "Box") == {"Box": 7}
    assert await _value_of(loaded_client, "Box.Box") == 7


async def test_a_refused_keyed_body_is_explained_by_the_value_inside(loaded_client: AppClient) -> None:
    before = await snapshot(loaded_client)
    response = await loaded_client.patch(element_url(SM_ID, "Speed/$value"), json={"Speed": "fast"})
    await assert_idta_error(response, 400, "xs:int", "fast")
    assert await snapshot(loaded_client) == before


async def test_value_write_stores_the_lexical_form_of_the_value_type(loaded_client: AppClient) -> None:
    for path, value in (("Speed", 1750), ("Temperature", 24.25), ("Running", False)):
        assert (await loaded_client.patch(element_url(SM_ID, f"{path}/$value"), json=value)).status == 204
    assert (await get_json(loaded_client, element_url(SM_ID, "Speed")))["value"] == "1750"
    assert (await get_json(loaded_client, element_url(SM_ID, "Temperature")))["value"] == "24.25"
    assert (await get_json(loaded_client, element_url(SM_ID, "Running")))["value"] == "false"
    assert (await loaded_client.patch(element_url(SM_ID, "Operating/$value"), json={"max": 95})).status == 204
    operating = await get_json(loaded_client, element_url(SM_ID, "Operating"))
    assert (operating["min"], operating["max"]) == ("-20", "95")


async def test_writing_back_what_get_value_returned_changes_nothing(loaded_client: AppClient) -> None:
    before = await snapshot(loaded_client)
    for path, _ in NEW_VALUES:
        value = await _value_of(loaded_client, path)
        response = await loaded_client.patch(element_url(SM_ID, f"{path}/$value"), json=value)
        assert response.status == 204, f"{path}: {await response.text()}"
        assert await snapshot(loaded_client) == before, path


async def test_submodel_value_round_trip_changes_nothing(loaded_client: AppClient) -> None:
    before = await snapshot(loaded_client)
    value = await get_json(loaded_client, f"{submodel_url(SM_ID)}/$value")
    response = await loaded_client.patch(f"{submodel_url(SM_ID)}/$value", json=value)
    assert response.status == 204, await response.text()
    assert await snapshot(loaded_client) == before


async def test_value_of_every_element_is_listed_and_operations_are_left_out(loaded_client: AppClient) -> None:
    page = await get_json(loaded_client, f"{submodel_url(SM_ID)}/submodel-elements/$value")
    names = [next(iter(item)) for item in page["result"] if item]
    expected = [
        element["idShort"]
        for element in every_element_submodel()["submodelElements"]
        if element["modelType"] not in ("Operation", "Capability")
    ]
    assert names == expected


# ---------------------------------------------------------------- refused writes

WRONG_VALUES: list[tuple[str, Any, tuple[str, ...]]] = [
    ("Speed", "fast", ("xs:int", "fast")),
    ("Speed", 1.5, ("xs:int",)),
    ("Speed", 2**40, ("xs:int", "range")),
    ("Speed", True, ("xs:int",)),
    ("Name", 42, ("string",)),
    ("Temperature", "warm", ("xs:double",)),
    ("Running", "maybe", ("xs:boolean",)),
    ("Running", [], ("xs:boolean",)),
    ("Designation", "Pump", ("language",)),
    ("Designation", [{"en": 1}], ("string",)),
    ("Operating", {"min": "cold"}, ("min", "xs:int")),
    ("Operating", {"low": 1}, ("low",)),
    ("Firmware", {"value": "not base64!"}, ("base64",)),
    ("ManualRef", {"type": "ModelReference"}, ("keys",)),
    ("Motor", {"entityType": "Sometimes"}, ("entityType",)),
    ("Motor", {"statements": {"Nope": 1}}, ("Nope",)),
    ("Maintenance", {"Unknown": 1}, ("Unknown",)),
    ("Maintenance", {"IntervalDays": "often"}, ("Maintenance.IntervalDays", "xs:int")),
    ("Maintenance.Records", [{}, {}, {}, {}], ("4 values",)),
    ("Maintenance.Records[2].Hours", "many", ("Maintenance.Records[2].Hours", "xs:int")),
    ("Readings", 1.0, ("array",)),
    ("Restart", 1, ("Operation",)),
    ("CanPump", True, ("Capability",)),
]


async def test_value_of_the_wrong_type_is_refused_and_changes_nothing(loaded_client: AppClient) -> None:
    before = await snapshot(loaded_client)
    for path, value, fragments in WRONG_VALUES:
        response = await loaded_client.patch(element_url(SM_ID, f"{path}/$value"), json=value)
        await assert_refused_unchanged(
            loaded_client, response, before, 400, *fragments, what=f"PATCH {path}/$value {value!r}"
        )


NOT_QUITE_JSON: list[tuple[str, bytes, tuple[str, ...]]] = [
    ("Speed", b"1" * 5000, ("digits",)),
    ("Temperature", b"NaN", ("NaN",)),
    ("Temperature", b"-Infinity", ("Infinity",)),
    # 1e400 is no double: it must not silently become INF.
    ("Temperature", b"1e400", ("1e400",)),
]


async def test_numbers_json_cannot_carry_are_refused_not_changed(loaded_client: AppClient) -> None:
    before = await snapshot(loaded_client)
    for path, body, fragments in NOT_QUITE_JSON:
        url = element_url(SM_ID, f"{path}/$value")
        response = await loaded_client.patch(url, data=body, headers={"Content-Type": "application/json"})
        await assert_refused_unchanged(
            loaded_client, response, before, 400, *fragments, what=f"PATCH {path}/$value {body[:20]!r}"
        )


# Writes at the edge of what the elements allow: each must be refused, or leave a valid submodel.
EDGE_VALUES: list[tuple[str, Any]] = [
    ("Overheat", {"observed": external_ref("urn:not-a-model-reference")}),
    ("Motor", {"specificAssetIds": [{"serialNumber": "1"}]}),
    ("Motor", {"entityType": "CoManagedEntity", "globalAssetId": None}),
    ("Motor", {"globalAssetId": None, "specificAssetIds": [{"name": "serialNumber", "value": "1"}]}),
    ("ManualRef", {"type": "ModelReference", "keys": [{"type": "Property", "value": "x"}]}),
    ("Drives", {"first": {"type": "ModelReference", "keys": [{"type": "GlobalReference", "value": "x"}]}}),
    ("Designation", [{"en": ""}]),
    ("Manual", {"contentType": "", "value": ""}),
    ("Firmware", {"value": ""}),
    ("Name", ""),
    ("Speed", "+0001"),
    ("Readings", [None, None]),
]


async def test_an_accepted_value_write_always_leaves_a_valid_submodel(loaded_client: AppClient) -> None:
    for path, value in EDGE_VALUES:
        response = await loaded_client.patch(element_url(SM_ID, f"{path}/$value"), json=value)
        stored_url = f"{submodel_url(SM_ID)}?extent=withBlobValue"
        if await assert_refused_or_still_valid(
            loaded_client, response, stored_url, f"PATCH {path}/$value {value!r}"
        ):
            assert (await loaded_client.put(submodel_url(SM_ID), json=every_element_submodel())).status == 204


async def test_value_write_to_a_missing_element_is_404(loaded_client: AppClient) -> None:
    before = await etag_of(loaded_client, submodel_url(SM_ID))
    response = await loaded_client.patch(element_url(SM_ID, "Maintenance.Records[5].Note/$value"), json="x")
    await assert_idta_error(response, 404, "Records[5]")
    response = await loaded_client.patch(element_url(SM_ID, "Nothing/$value"), json="x")
    await assert_idta_error(response, 404, "Nothing")
    assert await etag_of(loaded_client, submodel_url(SM_ID)) == before

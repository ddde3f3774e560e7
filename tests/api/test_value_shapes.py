"""GET element `$value` answers the OpenAPI's SubmodelElementValue of the element, bare: a Property's
is a JSON primitive, a Range's `{min, max}`, a collection's an object, a list's an array (Part 1
"Format Value", single elements). The same at every depth, and below a shell (the superpath)."""

from __future__ import annotations

from typing import Any

import jsonschema_rs

from tests.support.app import AppClient

from .helpers import (
    SHELL_ID,
    SM_ID,
    b64,
    element_url,
    every_element_submodel,
    external_ref,
    get_json,
    model_ref,
    shell_url,
    submodel_url,
)

_MOTOR = model_ref(("Submodel", SM_ID), ("Entity", "Motor"))
_TEMPERATURE = model_ref(("Submodel", SM_ID), ("Property", "Temperature"))

# (idShortPath, GET `$value` of the every-element submodel as loaded, default extent withoutBlobValue)
EXPECTED: list[tuple[str, Any]] = [
    ("Name", "Example Pumps Ltd"),
    ("Speed", 1500),
    ("Temperature", 23.5),
    ("Running", True),
    ("Designation", [{"en": "Pump"}, {"de": "Pumpe"}]),
    ("Operating", {"min": -20, "max": 80}),
    ("Firmware", {"contentType": "application/octet-stream"}),
    ("Manual", {"contentType": "application/pdf", "value": "manual.pdf"}),
    ("ManualRef", model_ref(("Submodel", SM_ID), ("File", "Manual"))),
    ("Drives", {"first": _MOTOR, "second": model_ref(("Submodel", SM_ID), ("Property", "Speed"))}),
    (
        "MeasuredBy",
        {
            "first": _TEMPERATURE,
            "second": external_ref("https://example.com/ids/asset/sensor"),
            "annotations": [{"Accuracy": 0.1}],
        },
    ),
    (
        "Motor",
        {
            "statements": {"Power": 2.2},
            "entityType": "SelfManagedEntity",
            "globalAssetId": "https://example.com/ids/asset/motor",
        },
    ),
    ("Overheat", {"observed": _TEMPERATURE}),
    (
        "Maintenance",
        {
            "IntervalDays": 180,
            "Records": [{"Note": "first"}, {"Note": "second"}, {"Note": "third", "Hours": 12}],
        },
    ),
    ("Maintenance.IntervalDays", 180),
    ("Maintenance.Records", [{"Note": "first"}, {"Note": "second"}, {"Note": "third", "Hours": 12}]),
    ("Maintenance.Records[2]", {"Note": "third", "Hours": 12}),
    ("Maintenance.Records[2].Hours", 12),
    ("Readings", [20.5, 21.5]),
    ("Readings[1]", 21.5),
    ("Motor.Power", 2.2),
    ("MeasuredBy.Accuracy", 0.1),
]


async def test_element_value_is_the_bare_value_of_every_element_type(loaded_client: AppClient) -> None:
    for path, expected in EXPECTED:
        assert await get_json(loaded_client, element_url(SM_ID, f"{path}/$value")) == expected, path


async def test_element_value_below_a_shell_is_the_same_bare_value(loaded_client: AppClient) -> None:
    superpath = f"{shell_url(SHELL_ID)}/submodels/{b64(SM_ID)}/submodel-elements"
    for path, expected in EXPECTED:
        assert await get_json(loaded_client, f"{superpath}/{path}/$value") == expected, path


async def test_blob_contents_are_in_the_value_only_when_asked_for(loaded_client: AppClient) -> None:
    firmware = every_element_submodel()["submodelElements"][6]
    with_blob = await get_json(loaded_client, element_url(SM_ID, "Firmware/$value?extent=withBlobValue"))
    assert with_blob == {"contentType": firmware["contentType"], "value": firmware["value"]}


async def test_a_property_without_value_has_the_value_null(loaded_client: AppClient) -> None:
    empty = {"modelType": "Property", "idShort": "Unset", "valueType": "xs:int"}
    assert (await loaded_client.post(f"{submodel_url(SM_ID)}/submodel-elements", json=empty)).status == 201
    response = await loaded_client.get(element_url(SM_ID, "Unset/$value"))
    assert (response.status, await response.text()) == (200, "null")


async def test_submodel_value_stays_the_object_keyed_by_id_short(loaded_client: AppClient) -> None:
    """Part 1: "A Submodel ... is serialized as an unnamed JSON object" of its elements by idShort."""
    value = await get_json(loaded_client, f"{submodel_url(SM_ID)}/$value")
    top_level = {path: expected for path, expected in EXPECTED if "." not in path and "[" not in path}
    assert value == top_level


# -------------------------------------------------------------- against the served OpenAPI schemas

# Where the OpenAPI's schema and Part 1 "Format Value" disagree, Titan follows Part 1 (its text and
# examples; docs/rest-api.md lists these): the member's schema is checked here instead.
_PART1_MEMBERS = {
    # OpenAPI MultiLanguagePropertyValue: one object; Part 1: an array of {language: text}.
    "MultiLanguageProperty": (None, {"type": "array", "items": {"type": "object", "maxProperties": 1}}),
    # OpenAPI annotations: one ValueOnly object; Part 1: an array of {idShort: value}.
    "AnnotatedRelationshipElement": (
        "annotations",
        {"type": "array", "items": {"type": "object", "maxProperties": 1}},
    ),
}


def _without_patterns(node: Any) -> Any:
    """The schema without `pattern`s: the OpenAPI's are escaped twice and match no identifier at all."""
    if isinstance(node, dict):
        return {key: _without_patterns(value) for key, value in node.items() if key != "pattern"}
    if isinstance(node, list):
        return [_without_patterns(value) for value in node]
    return node


def value_validator(openapi: dict[str, Any], model_type: str) -> jsonschema_rs.Draft202012Validator:
    """A validator for `<modelType>Value` of the served document, with Part 1's members where they differ."""
    components = _without_patterns(openapi["components"])
    schema: dict[str, Any] = {"$ref": f"#/components/schemas/{model_type}Value", "components": components}
    member, part1_schema = _PART1_MEMBERS.get(model_type, ("", None))
    if part1_schema is not None and member is None:
        schema = {**part1_schema, "components": components}
    elif part1_schema is not None:
        own = components["schemas"][f"{model_type}Value"]
        schema = {**own, "properties": {**own["properties"], member: part1_schema}, "components": components}
    return jsonschema_rs.Draft202012Validator(schema)


async def test_element_value_validates_against_the_served_openapi_schema_of_its_type(
    loaded_client: AppClient,
) -> None:
    openapi = await get_json(loaded_client, "/openapi.json")
    types = {
        element["idShort"]: element["modelType"] for element in every_element_submodel()["submodelElements"]
    }
    for path, _ in EXPECTED:
        if "." in path or "[" in path:
            continue
        value = await get_json(loaded_client, element_url(SM_ID, f"{path}/$value?extent=withBlobValue"))
        errors = [error.message for error in value_validator(openapi, types[path]).iter_errors(value)]
        assert errors == [], f"{path} ({types[path]}): {value!r}"
    # What earlier versions answered, `{idShort: value}`, is no PropertyValue.
    assert not value_validator(openapi, "Property").is_valid({"Speed": 1500})


def test_the_part1_exceptions_are_real_disagreements_with_the_openapi() -> None:
    """If a later OpenAPI agrees with Part 1, the exception above must go: this test says so."""
    from titan_core.api.openapi import official_documents

    part2 = official_documents()[2]["components"]["schemas"]
    assert part2["MultiLanguagePropertyValue"]["type"] == "object"
    assert part2["AnnotatedRelationshipElementValue"]["properties"]["annotations"] == {
        "$ref": "#/components/schemas/ValueOnly"
    }

"""The ValueOnly form of elements and submodels: reading, checked writing, change reporting."""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aas_core3 import jsonization, verification

from tests.support.data import IDTA_DIR, TESTGEN_DIR, data_files
from titan_core.errors import BadRequest
from titan_core.model.value_only import (
    apply_element_value,
    apply_element_value_tracked,
    apply_submodel_value,
    element_value,
    submodel_value,
)

IDTA_FILES = data_files(IDTA_DIR, at_least=8)
CORPUS_FILES = data_files(TESTGEN_DIR / "Expected", recursive=True, at_least=200)
REFUSED = "The value does not fit the element; nothing was changed"
CONTAINERS = {"SubmodelElementCollection": "value", "SubmodelElementList": "value", "Entity": "statements"}
REF = {"type": "ExternalReference", "keys": [{"type": "GlobalReference", "value": "urn:thing"}]}
MODEL_REF = {
    "type": "ModelReference",
    "keys": [{"type": "Submodel", "value": "urn:sm"}, {"type": "Property", "value": "PlusPole"}],
}


def prop(value_type: str, value: str | None = None, id_short: str = "P") -> dict[str, Any]:
    element = {"idShort": id_short, "modelType": "Property", "valueType": value_type}
    return element if value is None else element | {"value": value}


def refusal(element: dict[str, Any], value: Any, path: str = "P") -> list[str]:
    """The violation texts of writing `value`, checking the write left `element` untouched."""
    before = copy.deepcopy(element)
    with pytest.raises(BadRequest) as caught:
        apply_element_value(element, value, path=path)
    assert caught.value.message == REFUSED
    assert element == before
    return [str(violation) for violation in caught.value.violations]


def walk(
    elements: list[dict[str, Any]] | None, path: str = "", *, in_list: bool = False
) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every element below `elements` with its idShortPath, depth first."""
    for index, element in enumerate(elements or ()):
        name = f"[{index}]" if in_list else f".{element['idShort']}"
        element_path = (path + name).lstrip(".")
        yield element_path, element
        model_type = element["modelType"]
        children = element.get(CONTAINERS.get(model_type, "annotations"))
        yield from walk(children, element_path, in_list=model_type == "SubmodelElementList")


def submodels_of(files: list[Path]) -> Iterator[tuple[str, dict[str, Any]]]:
    for file in files:
        for submodel in json.loads(file.read_text()).get("submodels", ()):
            yield f"{file.name}:{submodel['id']}", submodel


def test_the_test_data_is_there() -> None:
    assert len(IDTA_FILES) >= 8 and len(CORPUS_FILES) >= 200


# ------------------------------------------------------------------------------- round trips
@pytest.mark.parametrize("file", IDTA_FILES + CORPUS_FILES, ids=lambda path: path.name)
def test_writing_back_what_was_read_changes_nothing(file: Path) -> None:
    for name, submodel in submodels_of([file]):
        assert apply_submodel_value(submodel, submodel_value(submodel, include_blob_values=True)) == (
            submodel,
            [],
        ), name
        assert apply_submodel_value(submodel, submodel_value(submodel)) == (submodel, []), name
        for path, element in walk(submodel.get("submodelElements")):
            if element["modelType"] in ("Operation", "Capability"):
                continue
            value = element_value(element, include_blob_values=True)
            assert apply_element_value_tracked(element, value, path=path) == (element, []), path
            assert apply_element_value(element, value, path=path) == element, path


def test_every_valid_data_value_of_the_corpora_is_accepted_onto_an_element_without_one() -> None:
    """Unlike the round trip, nothing is stored to compare with: every value goes through the checks."""
    checked = 0
    for _name, submodel in submodels_of(IDTA_FILES + CORPUS_FILES):
        for path, element in walk(submodel.get("submodelElements")):
            model_type = element["modelType"]
            if model_type not in (
                "Property",
                "Range",
                "MultiLanguageProperty",
                "File",
                "Blob",
                "ReferenceElement",
            ):
                continue
            if list(verification.verify(jsonization.submodel_element_from_jsonable(element))):
                continue  # leniently invalid data: only the round trip above applies
            value = element_value(element, include_blob_values=True)
            empty = {key: item for key, item in element.items() if key not in ("value", "min", "max")}
            written = apply_element_value(empty, value, path=path)
            assert element_value(written, include_blob_values=True) == value, path
            checked += 1
    assert checked > 300


# ------------------------------------------------------------------------------- reading
@pytest.mark.parametrize(
    ("value_type", "text", "expected"),
    [
        ("xs:boolean", "true", True),
        ("xs:boolean", "0", False),
        ("xs:int", "007", 7),
        ("xs:long", "-9223372036854775808", -9223372036854775808),
        ("xs:unsignedLong", "18446744073709551615", 18446744073709551615),
        ("xs:integer", "126789675432332938792837429837429837429", 126789675432332938792837429837429837429),
        ("xs:decimal", "0.1", 0.1),
        ("xs:decimal", "100000.00", 100000),
        ("xs:decimal", "-.5", -0.5),
        ("xs:decimal", "126789672374892739424.543233", "126789672374892739424.543233"),
        ("xs:double", "23.50", 23.5),
        ("xs:double", "234.567e8", 23456700000.0),
        ("xs:double", "INF", "INF"),
        ("xs:double", "-INF", "-INF"),
        ("xs:float", "NaN", "NaN"),
        ("xs:string", "23.5", "23.5"),
        ("xs:date", "2000-01-01Z", "2000-01-01Z"),
        ("xs:anyURI", "urn:example:company:1.0.0", "urn:example:company:1.0.0"),
        ("xs:int", "not a number", "not a number"),  # leniently loaded: returned as stored
        ("xs:double", "nan", "nan"),
    ],
)
def test_property_values_read_as_the_json_type_of_their_value_type(
    value_type: str, text: str, expected: Any
) -> None:
    value = element_value(prop(value_type, text))
    assert value == expected and type(value) is type(expected)
    json.dumps(value, allow_nan=False)


def test_the_submodel_value_follows_the_part_1_example() -> None:
    submodel = {
        "id": "urn:sm",
        "modelType": "Submodel",
        "submodelElements": [
            {
                "idShort": "ProductClassifications",
                "modelType": "SubmodelElementList",
                "typeValueListElement": "SubmodelElementCollection",
                "value": [
                    {
                        "modelType": "SubmodelElementCollection",
                        "value": [
                            prop("xs:string", "ECLASS", "ProductClassificationSystem"),
                            prop("xs:string", "27-01-88-77", "ProductClassId"),
                        ],
                    }
                ],
            },
            prop("xs:int", "5000", "MaxRotationSpeed"),
        ],
    }
    assert submodel_value(submodel) == {
        "ProductClassifications": [
            {"ProductClassificationSystem": "ECLASS", "ProductClassId": "27-01-88-77"}
        ],
        "MaxRotationSpeed": 5000,
    }


def test_a_single_element_reads_unnamed_as_the_serialization_modifier_examples_show() -> None:
    """Part 2 annex "SerializationModifier Examples": `$value` of the collection `RotationSpeed` is
    `{"MaxRotationSpeed": 5000}`, of the Property inside it `5000`; no idShort wraps either."""
    speed = prop("xs:int", "5000", "MaxRotationSpeed")
    rotation = {"idShort": "RotationSpeed", "modelType": "SubmodelElementCollection", "value": [speed]}
    assert element_value(rotation) == {"MaxRotationSpeed": 5000}
    assert element_value(speed) == 5000
    submodel = {"id": "urn:sm", "modelType": "Submodel", "submodelElements": [rotation]}
    assert submodel_value(submodel) == {"RotationSpeed": {"MaxRotationSpeed": 5000}}


def test_each_element_type_reads_as_part_1_shows_it() -> None:
    mlp = {
        "modelType": "MultiLanguageProperty",
        "value": [{"language": "de", "text": "Hallo"}, {"language": "en", "text": "Hi"}],
    }
    assert element_value(mlp) == [{"de": "Hallo"}, {"en": "Hi"}]
    assert element_value({"modelType": "Range", "valueType": "xs:int", "min": "3", "max": "15"}) == {
        "min": 3,
        "max": 15,
    }
    file = {"modelType": "File", "contentType": "application/pdf", "value": "/aasx/doc.pdf"}
    assert element_value(file) == {"contentType": "application/pdf", "value": "/aasx/doc.pdf"}
    blob = {"modelType": "Blob", "contentType": "application/octet-stream", "value": "SGk="}
    assert element_value(blob) == {"contentType": "application/octet-stream"}
    assert element_value(blob, include_blob_values=True) == {
        "contentType": "application/octet-stream",
        "value": "SGk=",
    }
    assert element_value({"modelType": "ReferenceElement", "value": MODEL_REF}) == MODEL_REF
    assert element_value({"modelType": "RelationshipElement", "first": MODEL_REF, "second": REF}) == {
        "first": MODEL_REF,
        "second": REF,
    }
    annotated = {
        "modelType": "AnnotatedRelationshipElement",
        "first": MODEL_REF,
        "second": REF,
        "annotations": [prop("xs:string", "TechnicalCurrentFlowDirection", "AppliedRule")],
    }
    assert element_value(annotated) == {
        "first": MODEL_REF,
        "second": REF,
        "annotations": [{"AppliedRule": "TechnicalCurrentFlowDirection"}],
    }
    assert element_value(
        {"modelType": "BasicEventElement", "observed": MODEL_REF, "direction": "output"}
    ) == {"observed": MODEL_REF}
    entity = {
        "modelType": "Entity",
        "entityType": "SelfManagedEntity",
        "globalAssetId": "urn:asset",
        "statements": [prop("xs:int", "5000", "MaxRotationSpeed")],
        "specificAssetIds": [{"name": "serial", "value": "42"}],
    }
    assert element_value(entity) == {
        "statements": {"MaxRotationSpeed": 5000},
        "entityType": "SelfManagedEntity",
        "globalAssetId": "urn:asset",
        "specificAssetIds": [{"name": "serial", "value": "42"}],
    }


def test_elements_without_a_value_are_left_out_of_containers_and_null_when_addressed() -> None:
    collection = {
        "modelType": "SubmodelElementCollection",
        "value": [
            prop("xs:string", None, "Empty"),
            {"idShort": "NoText", "modelType": "MultiLanguageProperty"},
            {"idShort": "Op", "modelType": "Operation"},
            {"idShort": "Skill", "modelType": "Capability"},
            {"idShort": "Ops", "modelType": "SubmodelElementList", "value": [{"modelType": "Operation"}]},
            prop("xs:string", "x", "Set"),
        ],
    }
    assert element_value(collection) == {"Set": "x"}
    assert element_value(prop("xs:string")) is None
    assert element_value({"modelType": "Range", "valueType": "xs:int"}) is None
    listing = {
        "modelType": "SubmodelElementList",
        "value": [prop("xs:int", "1"), prop("xs:int"), prop("xs:int", "3")],
    }
    assert element_value(listing) == [1, None, 3]


@pytest.mark.parametrize("model_type", ["Operation", "Capability"])
def test_operations_and_capabilities_have_no_value(model_type: str) -> None:
    with pytest.raises(BadRequest) as caught:
        element_value({"idShort": "Do", "modelType": model_type})
    assert (
        str(caught.value)
        == f'{model_type} "Do" has no value: the ValueOnly serialization leaves out Operations and Capabilities'
    )
    assert refusal({"idShort": "Do", "modelType": model_type}, {}, "Do") == [
        f'Do: {model_type} "Do" has no value: the ValueOnly serialization leaves out Operations and Capabilities'
    ]


# ------------------------------------------------------------------------------- writing Properties
@pytest.mark.parametrize(
    ("value_type", "value", "stored"),
    [
        ("xs:boolean", True, "true"),
        ("xs:boolean", False, "false"),
        ("xs:boolean", "1", "1"),
        ("xs:int", 42, "42"),
        ("xs:int", "-7", "-7"),
        ("xs:unsignedLong", 18446744073709551615, "18446744073709551615"),
        ("xs:integer", 10**40, str(10**40)),
        ("xs:decimal", 0.1, "0.1"),
        ("xs:decimal", 1e-05, "0.00001"),
        ("xs:decimal", 12, "12"),
        ("xs:decimal", "126789672374892739424.543233", "126789672374892739424.543233"),
        ("xs:double", 23.5, "23.5"),
        ("xs:double", 7, "7"),
        ("xs:double", 1e300, "1e+300"),
        ("xs:double", "22.25", "22.25"),
        ("xs:double", float("inf"), "INF"),
        ("xs:double", float("nan"), "NaN"),
        ("xs:float", "-INF", "-INF"),
        ("xs:string", "on", "on"),
        ("xs:dateTime", "2024-01-31T12:00:00Z", "2024-01-31T12:00:00Z"),
    ],
)
def test_property_values_are_stored_as_canonical_lexical_text(
    value_type: str, value: Any, stored: str
) -> None:
    assert apply_element_value(prop(value_type), value, path="P") == prop(value_type, stored)


@pytest.mark.parametrize(
    ("value_type", "stored", "value"),
    [
        ("xs:double", "23.50", 23.5),
        ("xs:boolean", "1", True),
        ("xs:int", "+007", 7),
        ("xs:decimal", "1.0", 1),
    ],
)
def test_a_value_equal_to_the_stored_one_keeps_the_stored_text_and_reports_no_change(
    value_type: str, stored: str, value: Any
) -> None:
    element = prop(value_type, stored)
    assert apply_element_value(element, value, path="P") == element
    assert apply_element_value_tracked(element, value, path="P") == (element, [])


def test_negative_zero_is_a_different_double_than_zero() -> None:
    assert apply_element_value(prop("xs:double", "0.0"), -0.0, path="P")["value"] == "-0.0"


def test_null_clears_a_property_value_and_writing_never_mutates_the_input() -> None:
    element = prop("xs:double", "1.5")
    assert apply_element_value(element, None, path="P") == prop("xs:double")
    assert apply_element_value(element, 2.5, path="P") is not element
    assert element == prop("xs:double", "1.5")


@pytest.mark.parametrize(
    ("value_type", "value", "message"),
    [
        ("xs:double", True, "expected a JSON number or a numeric string for valueType xs:double, got true"),
        ("xs:double", "abc", 'is not a valid xs:double value (for example "23.5")'),
        ("xs:int", 1e3, "expected a JSON integer or an integer string for valueType xs:int, got 1000.0"),
        ("xs:int", 2.5, "expected a JSON integer or an integer string for valueType xs:int, got 2.5"),
        ("xs:byte", 300, "300 is out of range for valueType xs:byte (-128 to 127)"),
        ("xs:unsignedInt", "-1", '"-1" is out of range for valueType xs:unsignedInt (0 to 4294967295)'),
        ("xs:positiveInteger", 0, "0 is out of range for valueType xs:positiveInteger (1 or more)"),
        ("xs:float", 1e39, "1e+39 is out of range for valueType xs:float"),
        (
            "xs:decimal",
            float("nan"),
            "expected a JSON number or a decimal string for valueType xs:decimal, got NaN",
        ),
        ("xs:decimal", "1e3", '"1e3" is not a valid xs:decimal value (for example "23.5")'),
        ("xs:boolean", 1, "expected true or false for valueType xs:boolean, got 1"),
        ("xs:boolean", "yes", '"yes" is not a valid xs:boolean value (for example "true")'),
        ("xs:string", 42, "expected a JSON string for valueType xs:string, got 42"),
        (
            "xs:string",
            "bell\u0007",
            '"bell\\u0007" holds characters that XML, and so xs:string, cannot carry',
        ),
        ("xs:date", "2024-13-01", '"2024-13-01" is not a valid xs:date value (for example "2024-01-31")'),
        ("xs:int", [1], "expected a JSON integer or an integer string for valueType xs:int, got [1]"),
        ("xs:string", {"a": 1}, 'expected a JSON string for valueType xs:string, got {"a": 1}'),
    ],
)
def test_a_property_value_that_does_not_fit_its_value_type_is_refused(
    value_type: str, value: Any, message: str
) -> None:
    [violation] = refusal(prop(value_type, "1"), value, "Sensors.Temperature")
    assert violation.startswith("Sensors.Temperature: ") and violation.endswith(message)


def test_a_property_with_an_unknown_value_type_takes_no_value() -> None:
    assert refusal(prop("xs:char", "a"), "b") == [
        'P: the element\'s valueType "xs:char" is no XSD type of the meta-model'
    ]


def test_writing_back_an_invalid_stored_value_unchanged_is_a_no_op() -> None:
    """Leniently loaded data must survive a read-modify-write; changing it is still checked."""
    element = prop("xs:anyURI", "C:\\Program Files\\Demo")
    assert apply_element_value(element, "C:\\Program Files\\Demo", path="P") == element
    assert refusal(element, "C:\\Other") == [
        'P: "C:\\\\Other" is not a valid xs:anyURI value (for example "https://example.com/x")'
    ]


def test_a_property_write_is_cheap() -> None:
    element = prop("xs:double", "21.0") | {"semanticId": REF}
    started = time.perf_counter()
    for step in range(10_000):
        apply_element_value(element, 20.0 + step / 100, path="Temperature")
    assert (time.perf_counter() - started) / 10_000 < 100e-6  # measured ~4 us; a parse would be ~1 ms


# ------------------------------------------------------------------------------- writing other elements
def test_a_multi_language_property_takes_language_objects_and_empty_clears_it() -> None:
    element = {
        "idShort": "Name",
        "modelType": "MultiLanguageProperty",
        "value": [{"language": "en", "text": "Old"}],
    }
    written = apply_element_value(element, [{"en": "Pump"}, {"de": "Pumpe"}], path="Name")
    assert written["value"] == [{"language": "en", "text": "Pump"}, {"language": "de", "text": "Pumpe"}]
    assert apply_element_value(element, {"en": "Pump", "de": "Pumpe"}, path="Name") == written
    assert "value" not in apply_element_value(element, [], path="Name")
    assert "value" not in apply_element_value(element, None, path="Name")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("Pump", 'Name: expected an array of {"language": "text"} objects, got "Pump"'),
        (
            [{"en": "a", "de": "b"}],
            'Name: expected an array of {"language": "text"} objects, got [{"en": "a", "de": "b"}]',
        ),
        ([{"en": 1}], 'Name: "en": expected a JSON string, got 1'),
        ([{"en": "a"}, {"en": "b"}], 'Name: "en": the language comes more than once'),
        (
            [{"en_GB": "a"}],
            'Name: "en_GB".language: The value must represent a value language tag conformant to BCP 47.',
        ),
        ([{"en": ""}], 'Name: "en".text: The value must not be empty.'),
    ],
)
def test_a_bad_multi_language_value_is_refused(value: Any, message: str) -> None:
    assert refusal({"idShort": "Name", "modelType": "MultiLanguageProperty"}, value, "Name") == [message]


def test_a_range_merges_min_and_max_by_its_value_type() -> None:
    element = {"idShort": "R", "modelType": "Range", "valueType": "xs:int", "min": "1", "max": "9"}
    assert apply_element_value(element, {"max": 5}, path="R") == element | {"max": "5"}
    assert apply_element_value(element, {"min": None}, path="R") == {
        key: v for key, v in element.items() if key != "min"
    }
    assert apply_element_value(element, None, path="R") == {
        "idShort": "R",
        "modelType": "Range",
        "valueType": "xs:int",
    }
    assert refusal(element, {"max": 5.5, "avg": 3}, "R") == [
        "R: max: expected a JSON integer or an integer string for valueType xs:int, got 5.5",
        'R: unknown member "avg"; accepted: min, max',
    ]
    assert refusal(element, [1, 5], "R") == ["R: expected an object with min and/or max, got [1, 5]"]


def test_a_file_takes_content_type_and_path_and_keeps_what_is_absent() -> None:
    element = {
        "idShort": "Doc",
        "modelType": "File",
        "contentType": "application/pdf",
        "value": "/aasx/a.pdf",
    }
    assert apply_element_value(element, {"value": "/aasx/b.pdf"}, path="Doc")["value"] == "/aasx/b.pdf"
    assert "value" not in apply_element_value(element, {"value": None}, path="Doc")
    assert refusal(element, {"contentType": None}, "Doc") == ["Doc: contentType: cannot be null"]
    assert refusal(element, {"contentType": "pdf", "value": ""}, "Doc") == [
        "Doc: contentType: The value must represent a valid content MIME type according to RFC 2046.",
        "Doc: value: The value must not be empty.",
    ]


def test_a_blob_read_without_its_contents_can_be_written_back() -> None:
    element = {
        "idShort": "Lib",
        "modelType": "Blob",
        "contentType": "application/octet-stream",
        "value": "SGk=",
    }
    assert apply_element_value(element, element_value(element), path="Lib") == element
    assert apply_element_value(element, {"value": "SGVsbG8="}, path="Lib")["value"] == "SGVsbG8="
    assert refusal(element, {"value": "not base64!"}, "Lib") == [
        'Lib: value: expected base64 text (RFC 4648, padded), got "not base64!"'
    ]


def test_references_are_checked_by_the_meta_model_and_stored_in_format_normal() -> None:
    element = {"idShort": "Ref", "modelType": "ReferenceElement"}
    with_semantic_id = REF | {"referredSemanticId": REF}
    assert apply_element_value(element, with_semantic_id, path="Ref") == element | {"value": with_semantic_id}
    assert refusal(element, {"type": "ModelReference", "keys": [{"type": "Bogus", "value": "x"}]}, "Ref") == [
        "Ref: keys[0].type: Not a valid string representation of a literal of KeyTypes: Bogus"
    ]
    assert refusal(element, {"type": "ExternalReference", "keys": []}, "Ref") == [
        "Ref: Keys must contain at least one item."
    ]
    assert refusal(element, REF | {"extra": 1}, "Ref") == ["Ref: Unexpected property: extra"]


def test_a_relationship_merges_first_and_second_which_cannot_be_null() -> None:
    element = {"idShort": "Flow", "modelType": "RelationshipElement", "first": MODEL_REF, "second": MODEL_REF}
    assert apply_element_value(element, {"second": REF}, path="Flow") == element | {"second": REF}
    assert refusal(element, {"first": None, "third": REF}, "Flow") == [
        "Flow: first: cannot be null",
        'Flow: unknown member "third"; accepted: first, second',
    ]
    event = {"idShort": "Ev", "modelType": "BasicEventElement", "observed": MODEL_REF, "direction": "output"}
    submodel_ref = {"type": "ModelReference", "keys": [{"type": "Submodel", "value": "urn:sm"}]}
    assert apply_element_value(event, {"observed": submodel_ref}, path="Ev") == event | {
        "observed": submodel_ref
    }
    # aas-core: "Observed must be a model reference to a referable".
    [observed_refusal] = refusal(event, {"observed": REF}, "Ev")
    assert observed_refusal.startswith(
        "Ev: observed: expected a ModelReference whose last key is a referable"
    )


def test_annotations_take_the_array_or_the_object_form() -> None:
    element = {
        "idShort": "Flow",
        "modelType": "AnnotatedRelationshipElement",
        "first": MODEL_REF,
        "second": REF,
        "annotations": [prop("xs:string", "old", "AppliedRule"), prop("xs:int", "1", "Weight")],
    }
    from_array = apply_element_value(element, {"annotations": [{"AppliedRule": "new"}]}, path="Flow")
    assert from_array["annotations"] == [
        prop("xs:string", "new", "AppliedRule"),
        prop("xs:int", "1", "Weight"),
    ]
    assert apply_element_value(element, {"annotations": {"AppliedRule": "new"}}, path="Flow") == from_array
    assert refusal(element, {"annotations": {"Bogus": 1, "Weight": "x"}}, "Flow") == [
        "Flow.Bogus: no such element; a value write changes existing elements only (here: AppliedRule, Weight)",
        'Flow.Weight: "x" is not a valid xs:int value (for example "42")',
    ]


def test_an_entity_takes_statements_asset_ids_and_keeps_constraint_aasd_014() -> None:
    element = {
        "idShort": "Motor",
        "modelType": "Entity",
        "entityType": "CoManagedEntity",
        "statements": [prop("xs:int", "100", "Speed")],
    }
    written = apply_element_value(
        element,
        {
            "entityType": "SelfManagedEntity",
            "specificAssetIds": [{"serial": "42"}],
            "statements": {"Speed": 5},
        },
        path="Motor",
    )
    assert written == element | {
        "entityType": "SelfManagedEntity",
        "specificAssetIds": [{"name": "serial", "value": "42"}],
        "statements": [prop("xs:int", "5", "Speed")],
    }
    assert refusal(element, {"entityType": "SelfManagedEntity"}, "Motor") == [
        "Motor: Constraint AASd-014: a SelfManagedEntity has either a globalAssetId or specificAssetIds (not"
        " both), a CoManagedEntity has neither; after this write the SelfManagedEntity would have neither"
    ]
    assert refusal(written, {"globalAssetId": "urn:asset"}, "Motor") == [
        "Motor: Constraint AASd-014: a SelfManagedEntity has either a globalAssetId or specificAssetIds (not"
        " both), a CoManagedEntity has neither; after this write the SelfManagedEntity would have"
        " globalAssetId and specificAssetIds"
    ]
    co_managed_with_id = {
        "entityType": "CoManagedEntity",
        "globalAssetId": "urn:asset",
        "specificAssetIds": None,
    }
    assert refusal(written, co_managed_with_id, "Motor") == [
        "Motor: Constraint AASd-014: a SelfManagedEntity has either a globalAssetId or specificAssetIds (not"
        " both), a CoManagedEntity has neither; after this write the CoManagedEntity would have globalAssetId"
    ]
    assert refusal(element, {"entityType": "Managed", "globalAssetId": ""}, "Motor") == [
        'Motor: entityType: expected "SelfManagedEntity" or "CoManagedEntity", got "Managed"',
        "Motor: globalAssetId: The value must not be empty.",
    ]
    assert refusal(written, {"specificAssetIds": [{"name": "serial", "value": ""}]}, "Motor") == [
        "Motor: specificAssetIds[0].value: The value must not be empty."
    ]


def test_a_collection_changes_the_named_children_only_and_refuses_unknown_ones() -> None:
    element = {
        "idShort": "Sensors",
        "modelType": "SubmodelElementCollection",
        "value": [prop("xs:double", "1.0", "Temperature"), prop("xs:double", "2.0", "Pressure")],
    }
    written = apply_element_value(element, {"Pressure": 3.5}, path="Sensors")
    assert written["value"] == [prop("xs:double", "1.0", "Temperature"), prop("xs:double", "3.5", "Pressure")]
    assert written["value"][0] is element["value"][0]  # untouched children are shared, not copied
    assert refusal(element, {"Humidity": 40, "Pressure": "high", "Temperature": 20}, "Sensors") == [
        "Sensors.Humidity: no such element; a value write changes existing elements only (here: Temperature, Pressure)",
        'Sensors.Pressure: "high" is not a valid xs:double value (for example "23.5")',
    ]
    assert refusal(element, [{"Pressure": 1}, {"Pressure": 2}], "Sensors") == [
        "Sensors.Pressure: the idShort comes more than once"
    ]
    assert refusal(element, [1, 2], "Sensors") == [
        "Sensors: expected an object with the values of elements by idShort, got [1, 2]"
    ]


def test_a_list_takes_at_most_as_many_values_as_it_has_elements() -> None:
    element = {
        "idShort": "Readings",
        "modelType": "SubmodelElementList",
        "typeValueListElement": "Property",
        "value": [prop("xs:int", "1", ""), prop("xs:int", "2", ""), prop("xs:int", "3", "")],
    }
    assert element_value(apply_element_value(element, [7, 8], path="Readings")) == [7, 8, 3]
    assert refusal(element, [1, 2, 3, 4], "Readings") == [
        "Readings: got 4 values for a list of 3 elements; a value write cannot add elements"
    ]
    assert refusal(element, [1, "x"], "Readings") == [
        'Readings[1]: "x" is not a valid xs:int value (for example "42")'
    ]
    assert refusal(element, {"0": 1}, "Readings") == [
        'Readings: expected an array with the values of the list\'s elements, got {"0": 1}'
    ]


# ------------------------------------------------------------------------------- submodel writes and changes
def sensor_submodel() -> dict[str, Any]:
    return {
        "id": "urn:sm",
        "modelType": "Submodel",
        "submodelElements": [
            prop("xs:double", "23.50", "Temperature"),
            {
                "idShort": "Limits",
                "modelType": "SubmodelElementCollection",
                "value": [
                    prop("xs:int", "10", "Low"),
                    {"idShort": "Band", "modelType": "Range", "valueType": "xs:int", "min": "1", "max": "2"},
                ],
            },
            {
                "idShort": "History",
                "modelType": "SubmodelElementList",
                "typeValueListElement": "Property",
                "value": [prop("xs:double", "1.0", ""), prop("xs:double", "2.0", "")],
            },
            {"idShort": "Image", "modelType": "Blob", "contentType": "image/png", "value": "SGk="},
            {"idShort": "Motor", "modelType": "Entity", "entityType": "CoManagedEntity"},
            {"idShort": "Start", "modelType": "Operation"},
        ],
    }


def test_a_submodel_write_reports_each_changed_element_once_in_document_order() -> None:
    submodel = sensor_submodel()
    before = copy.deepcopy(submodel)
    written, changes = apply_submodel_value(
        submodel,
        {
            "Temperature": 23.5,  # the same value: no change
            "Limits": {"Low": 10, "Band": {"max": 3}},
            "History": [1.0, 2.5],
            "Image": {"value": "SGVsbG8="},
            "Motor": {"entityType": "SelfManagedEntity", "globalAssetId": "urn:motor"},
        },
    )
    assert changes == [
        ("Limits.Band", {"min": 1, "max": 3}),
        ("History[1]", 2.5),
        ("Image", {"contentType": "image/png"}),  # events carry no Blob contents
        ("Motor", {"entityType": "SelfManagedEntity", "globalAssetId": "urn:motor"}),
    ]
    assert submodel == before
    assert written["submodelElements"][5] is submodel["submodelElements"][5]  # not written: shared
    assert submodel_value(written, include_blob_values=True) == {
        "Temperature": 23.5,
        "Limits": {"Low": 10, "Band": {"min": 1, "max": 3}},
        "History": [1.0, 2.5],
        "Image": {"contentType": "image/png", "value": "SGVsbG8="},
        "Motor": {"entityType": "SelfManagedEntity", "globalAssetId": "urn:motor"},
    }


def test_a_submodel_write_with_any_bad_part_changes_nothing_and_names_every_part() -> None:
    with pytest.raises(BadRequest) as caught:
        apply_submodel_value(
            sensor_submodel(), {"Temperature": "warm", "Start": {}, "Nope": 1, "Limits": {"Low": 1.5}}
        )
    assert [str(violation) for violation in caught.value.violations] == [
        'Temperature: "warm" is not a valid xs:double value (for example "23.5")',
        'Start: Operation "Start" has no value: the ValueOnly serialization leaves out Operations and Capabilities',
        "Nope: no such element; a value write changes existing elements only"
        " (here: Temperature, Limits, History, Image, Motor, Start)",
        "Limits.Low: expected a JSON integer or an integer string for valueType xs:int, got 1.5",
    ]
    with pytest.raises(BadRequest) as caught:
        apply_submodel_value(sensor_submodel(), 5)
    assert [str(violation) for violation in caught.value.violations] == [
        "expected an object with the values of elements by idShort, got 5"
    ]


def test_the_element_write_reports_the_changed_descendants_of_a_collection() -> None:
    limits = sensor_submodel()["submodelElements"][1]
    _written, changes = apply_element_value_tracked(limits, {"Low": 11, "Band": {"min": 1}}, path="Limits")
    assert changes == [("Limits.Low", 11)]

"""Navigating and editing submodel elements on Part 2 JSON dicts."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from tests.support.data import IDTA_DIR, data_files
from titan_core.errors import BadRequest, Conflict, NotFound
from titan_core.model.elements import (
    child_containers,
    children_of,
    delete_element,
    find_element,
    find_parent_container,
    insert_element,
    iter_elements,
    replace_element,
    walk_path,
)
from titan_core.model.paths import format_id_short_path, parse_id_short_path
from titan_core.model.verify import parse_and_verify

IDTA_FILES = data_files(IDTA_DIR, at_least=8)

REF = {"type": "ExternalReference", "keys": [{"type": "GlobalReference", "value": "urn:thing"}]}


def _property(id_short: str | None, value: str = "1", value_type: str = "xs:string") -> dict[str, Any]:
    element: dict[str, Any] = {"modelType": "Property", "valueType": value_type, "value": value}
    if id_short is not None:
        element["idShort"] = id_short
    return element


def sample_submodel() -> dict[str, Any]:
    """One of every container kind, plus an Operation and a Blob."""
    return {
        "modelType": "Submodel",
        "id": "urn:example:sm:1",
        "idShort": "TechnicalData",
        "submodelElements": [
            _property("Temperature", "23.5", "xs:double"),
            {
                "modelType": "SubmodelElementCollection",
                "idShort": "RotationSpeed",
                "value": [_property("MaxRotationSpeed", "5000", "xs:int")],
            },
            {
                "modelType": "SubmodelElementList",
                "idShort": "Markings",
                "typeValueListElement": "SubmodelElementCollection",
                "value": [
                    {"modelType": "SubmodelElementCollection", "value": [_property("Name", "CE")]},
                    {"modelType": "SubmodelElementCollection", "value": [_property("Name", "UKCA")]},
                ],
            },
            {
                "modelType": "Entity",
                "idShort": "Motor",
                "entityType": "SelfManagedEntity",
                "globalAssetId": "urn:motor",
                "statements": [_property("Serial", "42")],
            },
            {
                "modelType": "AnnotatedRelationshipElement",
                "idShort": "Drives",
                "first": REF,
                "second": REF,
                "annotations": [_property("Since", "2024-01-01", "xs:date")],
            },
            {
                "modelType": "Operation",
                "idShort": "Reset",
                "inputVariables": [{"value": _property("Force", "true", "xs:boolean")}],
                "outputVariables": [
                    {
                        "value": {
                            "modelType": "Blob",
                            "idShort": "Log",
                            "contentType": "text/plain",
                            "value": "aGk=",
                        }
                    }
                ],
            },
        ],
    }


def test_sample_submodel_is_a_valid_submodel() -> None:
    assert parse_and_verify("submodel", sample_submodel()).violations == []


@pytest.mark.parametrize(
    ("path", "expected_id_short", "expected_value"),
    [
        (("Temperature",), "Temperature", "23.5"),
        (("RotationSpeed", "MaxRotationSpeed"), "MaxRotationSpeed", "5000"),
        (("Markings", 1, "Name"), "Name", "UKCA"),
        (("Motor", "Serial"), "Serial", "42"),
        (("Drives", "Since"), "Since", "2024-01-01"),
    ],
)
def test_element_is_found_in_every_kind_of_container(
    path: tuple[str | int, ...], expected_id_short: str, expected_value: str
) -> None:
    element = find_element(sample_submodel(), path)
    assert element["idShort"] == expected_id_short
    assert element["value"] == expected_value


def test_found_element_is_the_stored_dict_not_a_copy() -> None:
    submodel = sample_submodel()
    find_element(submodel, ("Temperature",))["value"] = "99"
    assert submodel["submodelElements"][0]["value"] == "99"


def test_list_item_is_found_by_index() -> None:
    item = find_element(sample_submodel(), ("Markings", 0))
    assert item["value"][0]["value"] == "CE"


@pytest.mark.parametrize(
    ("path", "missing"),
    [
        (("Pressure",), "'Pressure' not found: the submodel has no child with idShort 'Pressure'"),
        (("RotationSpeed", "Min", "Deeper"), "'RotationSpeed.Min' not found"),
        (("Temperature", "Unit"), "the Property 'Temperature' has no child with idShort 'Unit'"),
        (("Markings", 2, "Name"), "'Markings[2]' not found: the list 'Markings' has 2 item(s)"),
        (("Reset", "Force"), "the Operation 'Reset' has no child"),
    ],
)
def test_missing_element_is_not_found_naming_the_first_missing_segment(
    path: tuple[str | int, ...], missing: str
) -> None:
    with pytest.raises(NotFound) as caught:
        find_element(sample_submodel(), path)
    assert missing in caught.value.message


def test_operation_variables_are_not_addressable() -> None:
    with pytest.raises(NotFound):
        find_element(sample_submodel(), ("Reset", "Log"))


def test_index_on_something_other_than_a_list_is_a_bad_request() -> None:
    with pytest.raises(BadRequest, match=r"index \[0\] is applied to the SubmodelElementCollection"):
        find_element(sample_submodel(), ("RotationSpeed", 0))
    with pytest.raises(BadRequest, match="only a SubmodelElementList has indexed items"):
        find_element(sample_submodel(), (0,))


def test_idshort_on_a_list_is_a_bad_request() -> None:
    with pytest.raises(
        BadRequest, match=r"'Markings' is a SubmodelElementList, whose items are addressed by index"
    ):
        find_element(sample_submodel(), ("Markings", "Name"))


def test_empty_path_addresses_nothing() -> None:
    with pytest.raises(BadRequest):
        find_element(sample_submodel(), ())


def test_walk_path_returns_every_element_on_the_way() -> None:
    chain = walk_path(sample_submodel(), ("Markings", 1, "Name"))
    assert [element["modelType"] for element in chain] == [
        "SubmodelElementList",
        "SubmodelElementCollection",
        "Property",
    ]


def test_parent_container_is_the_stored_list_and_the_index() -> None:
    submodel = sample_submodel()
    container, index = find_parent_container(submodel, ("Markings", 1, "Name"))
    assert container is submodel["submodelElements"][2]["value"][1]["value"]
    assert index == 0
    container, index = find_parent_container(submodel, ("Motor",))
    assert container is submodel["submodelElements"]
    assert index == 3


def test_insert_at_top_level_appends_to_submodel_elements() -> None:
    submodel = sample_submodel()
    assert insert_element(submodel, None, _property("Pressure")) == 6
    assert find_element(submodel, ("Pressure",))["idShort"] == "Pressure"


@pytest.mark.parametrize("parent", [("RotationSpeed",), ("Motor",), ("Drives",), ("Markings", 0)])
def test_insert_into_each_container_kind(parent: tuple[str | int, ...]) -> None:
    submodel = sample_submodel()
    insert_element(submodel, parent, _property("Added"))
    assert find_element(submodel, (*parent, "Added"))["modelType"] == "Property"


def test_insert_into_an_empty_collection_creates_its_value() -> None:
    submodel = sample_submodel()
    insert_element(submodel, None, {"modelType": "SubmodelElementCollection", "idShort": "Empty"})
    insert_element(submodel, ("Empty",), _property("First"))
    assert find_element(submodel, ("Empty",))["value"] == [_property("First")]


def test_insert_into_a_list_appends_and_returns_the_new_index() -> None:
    submodel = sample_submodel()
    item = {"modelType": "SubmodelElementCollection", "value": [_property("Name", "FCC")]}
    assert insert_element(submodel, ("Markings",), item) == 2
    assert find_element(submodel, ("Markings", 2, "Name"))["value"] == "FCC"


def test_insert_of_a_taken_idshort_is_a_conflict() -> None:
    submodel = sample_submodel()
    with pytest.raises(Conflict, match=r"'RotationSpeed\.MaxRotationSpeed' already exists"):
        insert_element(submodel, ("RotationSpeed",), _property("MaxRotationSpeed"))
    with pytest.raises(Conflict):
        insert_element(submodel, None, _property("Temperature"))


def test_insert_below_a_property_is_a_bad_request() -> None:
    with pytest.raises(BadRequest, match="a Property has no child elements"):
        insert_element(sample_submodel(), ("Temperature",), _property("X"))


def test_insert_without_idshort_outside_a_list_is_a_bad_request() -> None:
    with pytest.raises(BadRequest, match="no idShort"):
        insert_element(sample_submodel(), ("RotationSpeed",), _property(None))


def test_refused_insert_into_an_empty_collection_changes_nothing() -> None:
    submodel = sample_submodel()
    insert_element(submodel, None, {"modelType": "SubmodelElementCollection", "idShort": "Empty"})
    with pytest.raises(BadRequest):
        insert_element(submodel, ("Empty",), _property(None))
    assert find_element(submodel, ("Empty",)) == {
        "modelType": "SubmodelElementCollection",
        "idShort": "Empty",
    }


def test_insert_below_a_missing_parent_is_not_found() -> None:
    with pytest.raises(NotFound, match="'Nowhere' not found"):
        insert_element(sample_submodel(), ("Nowhere",), _property("X"))


def test_replace_puts_the_new_element_in_place_and_returns_the_old() -> None:
    submodel = sample_submodel()
    previous = replace_element(
        submodel, ("RotationSpeed", "MaxRotationSpeed"), _property("MaxRotationSpeed", "6000")
    )
    assert previous["value"] == "5000"
    assert find_element(submodel, ("RotationSpeed", "MaxRotationSpeed"))["value"] == "6000"


def test_replace_of_a_list_item_by_index() -> None:
    submodel = sample_submodel()
    replace_element(
        submodel, ("Markings", 0), {"modelType": "SubmodelElementCollection", "value": [_property("N")]}
    )
    assert find_element(submodel, ("Markings", 0, "N"))["value"] == "1"


def test_replace_with_a_different_idshort_is_a_bad_request() -> None:
    with pytest.raises(BadRequest, match="must be 'Temperature'"):
        replace_element(sample_submodel(), ("Temperature",), _property("Pressure"))


def test_replace_of_a_missing_element_is_not_found() -> None:
    with pytest.raises(NotFound):
        replace_element(sample_submodel(), ("Pressure",), _property("Pressure"))


def test_delete_removes_and_returns_the_element() -> None:
    submodel = sample_submodel()
    removed = delete_element(submodel, ("Motor",))
    assert removed["modelType"] == "Entity"
    with pytest.raises(NotFound):
        find_element(submodel, ("Motor",))
    assert len(submodel["submodelElements"]) == 5


def test_delete_of_a_list_item_moves_later_items_up() -> None:
    submodel = sample_submodel()
    delete_element(submodel, ("Markings", 0))
    assert find_element(submodel, ("Markings", 0, "Name"))["value"] == "UKCA"


def test_delete_of_the_last_child_removes_the_empty_member() -> None:
    submodel = sample_submodel()
    delete_element(submodel, ("RotationSpeed", "MaxRotationSpeed"))
    assert "value" not in find_element(submodel, ("RotationSpeed",))
    assert parse_and_verify("submodel", submodel).violations == []


def test_delete_of_a_missing_element_changes_nothing() -> None:
    submodel = sample_submodel()
    with pytest.raises(NotFound):
        delete_element(submodel, ("Markings", 5))
    assert submodel == sample_submodel()


def test_deep_iteration_visits_every_addressable_element_in_document_order() -> None:
    paths = [format_id_short_path(path) for path, _ in iter_elements(sample_submodel(), level="deep")]
    assert paths == [
        "Temperature",
        "RotationSpeed",
        "RotationSpeed.MaxRotationSpeed",
        "Markings",
        "Markings[0]",
        "Markings[0].Name",
        "Markings[1]",
        "Markings[1].Name",
        "Motor",
        "Motor.Serial",
        "Drives",
        "Drives.Since",
        "Reset",
    ]


def test_core_iteration_visits_direct_children_only() -> None:
    paths = [path for path, _ in iter_elements(sample_submodel(), level="core")]
    assert paths == [("Temperature",), ("RotationSpeed",), ("Markings",), ("Motor",), ("Drives",), ("Reset",)]


def test_iteration_from_an_element_gives_paths_relative_to_it() -> None:
    markings = find_element(sample_submodel(), ("Markings",))
    assert [path for path, _ in iter_elements(markings)] == [(0,), (0, "Name"), (1,), (1, "Name")]


def test_iteration_yields_the_stored_element_dicts() -> None:
    submodel = sample_submodel()
    for path, element in iter_elements(submodel):
        assert find_element(submodel, path) is element


def test_children_of_a_leaf_is_empty() -> None:
    assert children_of(_property("x")) == []
    assert children_of({"modelType": "SubmodelElementCollection", "idShort": "c"}) == []


def test_child_containers_include_operation_variables_but_the_same_dicts() -> None:
    submodel = sample_submodel()
    operation = find_element(submodel, ("Reset",))
    containers = child_containers(operation)
    assert [[element["idShort"] for element in container] for container in containers] == [["Force"], ["Log"]]
    assert containers[1][0] is operation["outputVariables"][0]["value"]
    collection = find_element(submodel, ("RotationSpeed",))
    assert child_containers(collection) == [collection["value"]]
    assert child_containers(collection)[0] is collection["value"]
    assert child_containers(_property("x")) == []


@pytest.mark.parametrize("file", IDTA_FILES, ids=lambda path: path.name)
def test_every_element_of_real_idta_submodels_is_found_by_its_formatted_path(file: Path) -> None:
    environment = json.loads(file.read_text(encoding="utf-8"))
    count = 0
    for submodel in environment.get("submodels", []):
        pristine = copy.deepcopy(submodel)
        for path, element in iter_elements(submodel):
            text = format_id_short_path(path)
            assert find_element(submodel, parse_id_short_path(text)) is element
            count += 1
        assert submodel == pristine  # reading never changes the submodel
    assert count > 0

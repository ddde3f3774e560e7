"""The Part 2 modifiers on dicts: $metadata, $reference, $path, level=core, extent."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from titan_core.errors import BadRequest, NotFound
from titan_core.model.elements import find_element
from titan_core.model.projections import (
    apply_level_core,
    contains_blob,
    metadata_of,
    paths_of,
    reference_of_concept_description,
    reference_of_element,
    reference_of_shell,
    reference_of_submodel,
    without_blob_values,
)
from titan_core.model.verify import parse_and_verify

SUBMODEL_ID = "http://i40.customer.com/type/1/1/7A7104BDAB57E184"
SEMANTIC_ID = {
    "type": "ExternalReference",
    "keys": [{"type": "GlobalReference", "value": "0173-1#01-AFZ615#016"}],
}
SPEED_ID = {
    "type": "ExternalReference",
    "keys": [{"type": "GlobalReference", "value": "urn:RotationalSpeed"}],
}
REF = {"type": "ExternalReference", "keys": [{"type": "GlobalReference", "value": "urn:thing"}]}


def spec_submodel() -> dict[str, Any]:
    """The example of Part 2, annex "SerializationModifier Examples", plus a list, a Blob and an Operation."""
    return {
        "modelType": "Submodel",
        "id": SUBMODEL_ID,
        "idShort": "TechnicalData",
        "semanticId": SEMANTIC_ID,
        "submodelElements": [
            {
                "modelType": "SubmodelElementCollection",
                "idShort": "RotationSpeed",
                "semanticId": SPEED_ID,
                "value": [
                    {
                        "modelType": "Property",
                        "idShort": "MaxRotationSpeed",
                        "category": "PARAMETER",
                        "semanticId": SEMANTIC_ID,
                        "valueType": "xs:int",
                        "value": "5000",
                    }
                ],
            },
            {
                "modelType": "SubmodelElementList",
                "idShort": "Documents",
                "typeValueListElement": "SubmodelElementCollection",
                "value": [
                    {
                        "modelType": "SubmodelElementCollection",
                        "value": [
                            {
                                "modelType": "Blob",
                                "idShort": "Scan",
                                "contentType": "image/png",
                                "value": "AAEC",
                            }
                        ],
                    }
                ],
            },
            {
                "modelType": "Operation",
                "idShort": "Calibrate",
                "outputVariables": [
                    {
                        "value": {
                            "modelType": "Blob",
                            "idShort": "Report",
                            "contentType": "text/plain",
                            "value": "aGk=",
                        }
                    }
                ],
            },
        ],
    }


def test_spec_submodel_is_valid() -> None:
    assert parse_and_verify("submodel", spec_submodel()).violations == []


# --- $metadata -----------------------------------------------------------------------------------


def test_submodel_metadata_is_the_submodel_without_its_elements() -> None:
    assert metadata_of(spec_submodel()) == {
        "modelType": "Submodel",
        "id": SUBMODEL_ID,
        "idShort": "TechnicalData",
        "semanticId": SEMANTIC_ID,
    }


def test_collection_metadata_drops_its_value_as_in_the_spec_example() -> None:
    collection = find_element(spec_submodel(), ("RotationSpeed",))
    assert metadata_of(collection) == {
        "modelType": "SubmodelElementCollection",
        "idShort": "RotationSpeed",
        "semanticId": SPEED_ID,
    }


def test_property_metadata_keeps_value_type_but_not_value_or_value_id() -> None:
    prop = {**find_element(spec_submodel(), ("RotationSpeed", "MaxRotationSpeed")), "valueId": REF}
    assert metadata_of(prop) == {
        "modelType": "Property",
        "idShort": "MaxRotationSpeed",
        "category": "PARAMETER",
        "semanticId": SEMANTIC_ID,
        "valueType": "xs:int",
    }


@pytest.mark.parametrize(
    ("element", "kept"),
    [
        (
            {"modelType": "Range", "idShort": "r", "valueType": "xs:int", "min": "1", "max": "2"},
            {"modelType", "idShort", "valueType"},
        ),
        (
            {
                "modelType": "SubmodelElementList",
                "idShort": "l",
                "orderRelevant": True,
                "typeValueListElement": "Property",
                "valueTypeListElement": "xs:int",
                "semanticIdListElement": REF,
                "value": [{"modelType": "Property", "valueType": "xs:int", "value": "1"}],
            },
            {
                "modelType",
                "idShort",
                "orderRelevant",
                "typeValueListElement",
                "valueTypeListElement",
                "semanticIdListElement",
            },
        ),
        (
            {
                "modelType": "Entity",
                "idShort": "e",
                "description": [{"language": "en", "text": "x"}],
                "entityType": "SelfManagedEntity",
                "globalAssetId": "urn:a",
                "statements": [],
            },
            # entityType and the asset ids are mandatory (AASd-014), so they stay.
            {"modelType", "idShort", "description", "entityType", "globalAssetId"},
        ),
        (
            {"modelType": "Blob", "idShort": "b", "contentType": "image/png", "value": "AA=="},
            {"modelType", "idShort", "contentType"},
        ),
        (
            {"modelType": "File", "idShort": "f", "contentType": "image/png", "value": "/a.png"},
            {"modelType", "idShort", "contentType"},
        ),
        (
            {
                "modelType": "BasicEventElement",
                "idShort": "ev",
                "observed": REF,
                "direction": "output",
                "state": "on",
                "messageTopic": "t",
                "qualifiers": [{"type": "q", "valueType": "xs:string"}],
            },
            {"modelType", "idShort", "direction", "state", "messageTopic", "qualifiers", "observed"},
        ),
        (
            {"modelType": "RelationshipElement", "idShort": "rel", "first": REF, "second": REF},
            {"modelType", "idShort", "first", "second"},
        ),
        (
            {"modelType": "Operation", "idShort": "op", "inputVariables": [], "kind": "Instance"},
            {"modelType", "idShort", "kind"},
        ),
        (
            {
                "modelType": "MultiLanguageProperty",
                "idShort": "m",
                "value": [{"language": "en", "text": "x"}],
            },
            {"modelType", "idShort"},
        ),
    ],
    ids=lambda value: value["modelType"] if isinstance(value, dict) else "",
)
def test_element_metadata_keeps_its_metadata_schema_attributes_and_mandatory_ones(
    element: dict[str, Any], kept: set[str]
) -> None:
    assert set(metadata_of(element)) == kept


def test_shell_metadata_drops_asset_information_and_submodel_references() -> None:
    shell = {
        "modelType": "AssetAdministrationShell",
        "id": "urn:aas",
        "derivedFrom": REF,
        "assetInformation": {"assetKind": "Instance", "globalAssetId": "urn:a"},
        "submodels": [REF],
    }
    assert metadata_of(shell) == {
        "modelType": "AssetAdministrationShell",
        "id": "urn:aas",
        "derivedFrom": REF,
    }


def test_metadata_of_a_concept_description_is_refused() -> None:
    with pytest.raises(BadRequest, match=r"\$metadata is not defined for a ConceptDescription"):
        metadata_of({"modelType": "ConceptDescription", "id": "urn:cd"})


def test_metadata_does_not_change_its_input() -> None:
    submodel = spec_submodel()
    metadata_of(submodel)
    metadata_of(submodel["submodelElements"][0])
    assert submodel == spec_submodel()


# --- $reference ----------------------------------------------------------------------------------


def test_identifiable_references_are_model_references_with_one_key() -> None:
    assert reference_of_submodel(SUBMODEL_ID) == {
        "type": "ModelReference",
        "keys": [{"type": "Submodel", "value": SUBMODEL_ID}],
    }
    assert reference_of_shell("urn:aas")["keys"] == [{"type": "AssetAdministrationShell", "value": "urn:aas"}]
    assert reference_of_concept_description("urn:cd")["keys"] == [
        {"type": "ConceptDescription", "value": "urn:cd"}
    ]


def test_element_reference_matches_the_spec_example() -> None:
    assert reference_of_element(SUBMODEL_ID, spec_submodel(), ("RotationSpeed", "MaxRotationSpeed")) == {
        "keys": [
            {"type": "Submodel", "value": SUBMODEL_ID},
            {"type": "SubmodelElementCollection", "value": "RotationSpeed"},
            {"type": "Property", "value": "MaxRotationSpeed"},
        ],
        "type": "ModelReference",
    }


def test_list_items_are_keyed_by_their_index_as_a_string() -> None:
    reference = reference_of_element(SUBMODEL_ID, spec_submodel(), ("Documents", 0, "Scan"))
    assert reference["keys"][1:] == [
        {"type": "SubmodelElementList", "value": "Documents"},
        {"type": "SubmodelElementCollection", "value": "0"},
        {"type": "Blob", "value": "Scan"},
    ]
    assert parse_and_verify("reference", reference).violations == []


def test_reference_of_a_missing_element_is_not_found() -> None:
    with pytest.raises(NotFound):
        reference_of_element(SUBMODEL_ID, spec_submodel(), ("RotationSpeed", "Min"))


# --- $path ---------------------------------------------------------------------------------------


def test_submodel_paths_start_at_the_first_element() -> None:
    assert paths_of(spec_submodel(), level="deep") == [
        "RotationSpeed",
        "RotationSpeed.MaxRotationSpeed",
        "Documents",
        "Documents[0]",
        "Documents[0].Scan",
        "Calibrate",
    ]


def test_submodel_paths_with_level_core_are_the_direct_children() -> None:
    assert paths_of(spec_submodel(), level="core") == ["RotationSpeed", "Documents", "Calibrate"]


@pytest.mark.parametrize("level", ["deep", "core"])
def test_collection_paths_include_the_collection_itself(level: str) -> None:
    collection = find_element(spec_submodel(), ("RotationSpeed",))
    assert paths_of(collection, ("RotationSpeed",), level=level) == [  # type: ignore[arg-type]
        "RotationSpeed",
        "RotationSpeed.MaxRotationSpeed",
    ]


def test_property_paths_are_its_own_path() -> None:
    prop = find_element(spec_submodel(), ("RotationSpeed", "MaxRotationSpeed"))
    assert paths_of(prop, ("RotationSpeed", "MaxRotationSpeed")) == ["RotationSpeed.MaxRotationSpeed"]


def test_list_paths_below_an_element_continue_its_path() -> None:
    documents = find_element(spec_submodel(), ("Documents",))
    assert paths_of(documents, ("Documents",), level="core") == ["Documents", "Documents[0]"]


def test_element_paths_need_the_element_path() -> None:
    with pytest.raises(BadRequest):
        paths_of(find_element(spec_submodel(), ("RotationSpeed",)))


# --- level=core ----------------------------------------------------------------------------------


def test_level_core_of_a_submodel_matches_the_spec_example() -> None:
    core = apply_level_core(spec_submodel())
    assert core["submodelElements"][0] == {
        "modelType": "SubmodelElementCollection",
        "idShort": "RotationSpeed",
        "semanticId": SPEED_ID,
    }
    assert "value" not in core["submodelElements"][1]
    # An Operation's variables are attributes, not children, so they stay.
    assert core["submodelElements"][2] == spec_submodel()["submodelElements"][2]


def test_level_core_of_a_collection_keeps_its_direct_children() -> None:
    collection = find_element(spec_submodel(), ("RotationSpeed",))
    assert apply_level_core(collection) == collection


def test_level_core_of_a_list_strips_the_items_children() -> None:
    documents = find_element(spec_submodel(), ("Documents",))
    assert apply_level_core(documents)["value"] == [{"modelType": "SubmodelElementCollection"}]


def test_level_core_does_not_change_its_input_and_returns_leaves_as_they_are() -> None:
    submodel = spec_submodel()
    apply_level_core(submodel)
    assert submodel == spec_submodel()
    prop = submodel["submodelElements"][0]["value"][0]
    assert apply_level_core(prop) is prop


# --- extent --------------------------------------------------------------------------------------


def test_without_blob_values_strips_every_blob_value_including_operation_variables() -> None:
    stripped = without_blob_values(spec_submodel())
    assert find_element(stripped, ("Documents", 0, "Scan")) == {
        "modelType": "Blob",
        "idShort": "Scan",
        "contentType": "image/png",
    }
    report = find_element(stripped, ("Calibrate",))["outputVariables"][0]["value"]
    assert "value" not in report
    assert report["contentType"] == "text/plain"


def test_without_blob_values_of_a_blob_itself() -> None:
    blob = {"modelType": "Blob", "idShort": "b", "contentType": "a/b", "value": "AA"}
    assert without_blob_values(blob) == {"modelType": "Blob", "idShort": "b", "contentType": "a/b"}


def test_without_blob_values_copies_only_what_changes() -> None:
    submodel = spec_submodel()
    pristine = copy.deepcopy(submodel)
    stripped = without_blob_values(submodel)
    assert submodel == pristine
    assert stripped["submodelElements"][0] is submodel["submodelElements"][0]  # no Blob inside: shared
    collection = find_element(submodel, ("RotationSpeed",))
    assert without_blob_values(collection) is collection


def test_contains_blob_looks_everywhere() -> None:
    submodel = spec_submodel()
    assert contains_blob(submodel)
    assert not contains_blob(find_element(submodel, ("RotationSpeed",)))
    assert contains_blob(find_element(submodel, ("Calibrate",)))
    assert contains_blob(find_element(submodel, ("Documents",)))
    assert not contains_blob(metadata_of(submodel))

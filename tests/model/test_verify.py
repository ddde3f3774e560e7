"""Parsing and verifying Part 2 JSON with aas-core3.0: real files, the aas-core test corpus, hostile input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aas_core3 import types

from tests.support.data import IDTA_DIR, TESTGEN_DIR, data_file, data_files
from titan_core.errors import BadRequest, InvalidModel
from titan_core.model.verify import MAX_LISTED_VIOLATIONS, check_json_depth, parse_and_verify

CORPUS_DIR = TESTGEN_DIR

IDTA_FILES = data_files(IDTA_DIR, at_least=8)
EXPECTED = data_files(CORPUS_DIR / "Expected", recursive=True, at_least=250)
INVALID = data_files(CORPUS_DIR / "Unexpected" / "Invalid", recursive=True, at_least=200)
UNSERIALIZABLE = data_files(CORPUS_DIR / "Unexpected" / "Unserializable", recursive=True, at_least=50)


def _load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _corpus_id(path: Path) -> str:
    return str(path.relative_to(CORPUS_DIR))


def _property(id_short: str, value: str = "1", value_type: str = "xs:int") -> dict[str, Any]:
    return {"modelType": "Property", "idShort": id_short, "valueType": value_type, "value": value}


def test_the_corpus_is_where_the_tests_expect_it() -> None:
    assert (len(EXPECTED), len(INVALID), len(UNSERIALIZABLE)) == (250, 200, 50)
    assert len(IDTA_FILES) >= 8


# --- the aas-core test corpus --------------------------------------------------------------------


@pytest.mark.parametrize("path", EXPECTED, ids=_corpus_id)
def test_corpus_expected_environment_is_accepted_strictly(path: Path) -> None:
    verified = parse_and_verify("environment", _load(path))
    assert verified.violations == []
    assert isinstance(verified.instance, types.Environment)


@pytest.mark.parametrize("path", INVALID, ids=_corpus_id)
def test_corpus_invalid_environment_is_refused_with_violations(path: Path) -> None:
    document = _load(path)
    with pytest.raises(InvalidModel) as caught:
        parse_and_verify("environment", document)
    assert caught.value.violations
    assert "violates" in caught.value.message
    assert parse_and_verify("environment", document, lenient=True).violations


@pytest.mark.parametrize("path", UNSERIALIZABLE, ids=_corpus_id)
def test_corpus_unserializable_environment_is_refused_even_when_lenient(path: Path) -> None:
    with pytest.raises(InvalidModel) as caught:
        parse_and_verify("environment", _load(path), lenient=True)
    assert "Not a valid Environment" in caught.value.message
    assert len(caught.value.violations) == 1
    assert caught.value.violations[0].path.startswith("submodels[0]")


# --- real IDTA files -----------------------------------------------------------------------------


@pytest.mark.parametrize("path", IDTA_FILES, ids=lambda path: path.name)
def test_idta_file_parses_leniently_and_strict_mode_agrees_with_its_violations(path: Path) -> None:
    document = _load(path)
    verified = parse_and_verify("environment", document, lenient=True)
    assert verified.jsonable["submodels"]
    for violation in verified.violations:
        assert not violation.path.startswith(".")
        assert "_" not in violation.path.split("[")[0]  # JSON names (submodelElements), not Python's
    if verified.violations:
        with pytest.raises(InvalidModel) as caught:
            parse_and_verify("environment", document)
        listed = caught.value.violations
        assert listed == verified.violations[:MAX_LISTED_VIOLATIONS]
    else:
        assert parse_and_verify("environment", document).violations == []


def test_lenient_violations_of_a_real_file_name_the_json_path() -> None:
    document = _load(data_file(IDTA_DIR, "IDTA_02006-3-0_Template_Digital_Nameplate.json"))
    violations = parse_and_verify("environment", document, lenient=True).violations
    paths = {violation.path for violation in violations}
    assert "submodels[0].submodelElements[18].value[0].idShort" in paths
    assert any(violation.message == "The value must not be empty." for violation in violations)


def test_every_submodel_of_the_idta_files_parses_on_its_own() -> None:
    for path in IDTA_FILES:
        for submodel in _load(path)["submodels"]:
            verified = parse_and_verify("submodel", submodel, lenient=True)
            assert verified.jsonable["id"] == submodel["id"]


# --- shapes and messages -------------------------------------------------------------------------


def test_a_list_where_a_submodel_is_expected_is_refused_by_name() -> None:
    with pytest.raises(InvalidModel) as caught:
        parse_and_verify("submodel", [{"modelType": "Submodel", "id": "x"}])
    assert caught.value.message == "Expected a JSON object with modelType 'Submodel', got a list"


def test_a_missing_or_wrong_model_type_is_refused_by_name() -> None:
    with pytest.raises(
        InvalidModel, match="'modelType' is missing: expected a JSON object with modelType 'Submodel'"
    ):
        parse_and_verify("submodel", {"id": "x"})
    with pytest.raises(InvalidModel, match="got modelType 'AssetAdministrationShell'"):
        parse_and_verify("submodel", {"modelType": "AssetAdministrationShell", "id": "x"})
    with pytest.raises(
        InvalidModel, match=r"modelType one of AnnotatedRelationshipElement, .*SubmodelElementList"
    ):
        parse_and_verify("submodel_element", {"modelType": "Submodel", "id": "x"})


def test_a_deserialization_error_names_the_json_path_and_what_was_expected() -> None:
    body = {
        "modelType": "Submodel",
        "id": "x",
        "submodelElements": [{"modelType": "Property", "idShort": "p"}],
    }
    with pytest.raises(InvalidModel) as caught:
        parse_and_verify("submodel", body)
    [violation] = caught.value.violations
    assert violation.path == "submodelElements[0]"
    assert "'valueType' is missing" in violation.message


def test_python_type_names_do_not_leak_into_messages() -> None:
    with pytest.raises(InvalidModel) as caught:
        parse_and_verify("submodel", {"modelType": "Submodel", "id": "x", "submodelElements": "many"})
    assert "got: a string" in str(caught.value)
    assert "<class" not in str(caught.value)


def test_a_constraint_violation_names_the_json_path() -> None:
    body = {"modelType": "Submodel", "id": "x", "submodelElements": [_property("p", value="abc")]}
    with pytest.raises(InvalidModel) as caught:
        parse_and_verify("submodel", body)
    assert [(v.path, v.message) for v in caught.value.violations] == [
        ("submodelElements[0]", "Value must be consistent with the value type.")
    ]


def test_strict_mode_lists_at_most_fifty_violations_and_counts_the_rest() -> None:
    body = {
        "modelType": "Submodel",
        "id": "x",
        "submodelElements": [_property(f"p{index}", value="abc") for index in range(60)],
    }
    with pytest.raises(InvalidModel) as caught:
        parse_and_verify("submodel", body)
    assert len(caught.value.violations) == MAX_LISTED_VIOLATIONS == 50
    assert "violates 60 constraint(s)" in caught.value.message
    assert "10 more are not" in caught.value.message
    assert len(parse_and_verify("submodel", body, lenient=True).violations) == 60


def test_the_result_is_normalised_part2_json() -> None:
    body = {"modelType": "Submodel", "id": "urn:sm", "submodelElements": [_property("p", value="5")]}
    verified = parse_and_verify("submodel", body)
    assert verified.jsonable == body
    assert verified.jsonable is not body
    assert isinstance(verified.instance, types.Submodel)


@pytest.mark.parametrize(
    ("kind", "document", "instance_type"),
    [
        (
            "shell",
            {
                "modelType": "AssetAdministrationShell",
                "id": "urn:aas",
                "assetInformation": {"assetKind": "Instance", "globalAssetId": "urn:a"},
            },
            types.AssetAdministrationShell,
        ),
        (
            "concept_description",
            {"modelType": "ConceptDescription", "id": "urn:cd"},
            types.ConceptDescription,
        ),
        (
            "submodel_element",
            {"modelType": "Range", "idShort": "r", "valueType": "xs:int", "min": "1"},
            types.Range,
        ),
        ("asset_information", {"assetKind": "Type", "globalAssetId": "urn:a"}, types.AssetInformation),
        (
            "reference",
            {"type": "ExternalReference", "keys": [{"type": "GlobalReference", "value": "urn:x"}]},
            types.Reference,
        ),
        ("specific_asset_id", {"name": "serialNumber", "value": "4711"}, types.SpecificAssetID),
        ("environment", {}, types.Environment),
    ],
)
def test_each_kind_parses_to_its_aas_core_type(
    kind: Any, document: dict[str, Any], instance_type: type
) -> None:
    verified = parse_and_verify(kind, document)
    assert isinstance(verified.instance, instance_type)
    assert verified.jsonable == document


def test_kinds_without_model_type_still_say_what_they_expected() -> None:
    with pytest.raises(InvalidModel, match=r"Expected a JSON object \(a SpecificAssetId\), got a string"):
        parse_and_verify("specific_asset_id", "serialNumber=4711")


# --- hostile input -------------------------------------------------------------------------------


def _nested_lists(depth: int) -> list[Any]:
    root: list[Any] = []
    node = root
    for _ in range(depth - 1):
        child: list[Any] = []
        node.append(child)
        node = child
    return root


def test_depth_check_counts_levels_and_refuses_deeper_input() -> None:
    check_json_depth(_nested_lists(10), 10)
    check_json_depth({"a": {"b": [1, "x", None]}}, 3)
    with pytest.raises(BadRequest, match="more than 10 levels"):
        check_json_depth(_nested_lists(11), 10)


def test_absurdly_nested_input_is_refused_without_recursion_error() -> None:
    with pytest.raises(BadRequest, match="levels deep"):
        check_json_depth(_nested_lists(100_000), 200)


def test_deeply_nested_submodel_is_a_bad_request_not_a_crash() -> None:
    element: dict[str, Any] = _property("leaf")
    for index in range(2_000):
        element = {"modelType": "SubmodelElementCollection", "idShort": f"c{index}", "value": [element]}
    with pytest.raises(BadRequest, match="levels deep"):
        parse_and_verify("submodel", {"modelType": "Submodel", "id": "x", "submodelElements": [element]})


def test_moderately_nested_submodel_is_accepted() -> None:
    element: dict[str, Any] = _property("leaf")
    for index in range(60):
        element = {"modelType": "SubmodelElementCollection", "idShort": f"c{index}", "value": [element]}
    verified = parse_and_verify(
        "submodel", {"modelType": "Submodel", "id": "x", "submodelElements": [element]}
    )
    assert verified.violations == []

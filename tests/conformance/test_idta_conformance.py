"""The official IDTA conformance tool (`aas-test-engines` 1.0.3) passes against a live Titan server.

The server is loaded with tests/fixtures/conformance/environment.json (every submodel element
type, two shells, three submodels, concept descriptions) and a File attachment. What the tool
expects of a server is written down in docs/conformance.md.
"""

from __future__ import annotations

import json
from collections import Counter
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
import requests

from .idta_runner import (
    AAS_REPOSITORY,
    AAS_SERVICE,
    ALL_PROFILES,
    SUBMODEL_SERVICE,
    TOOL_VERSION,
    Level,
    ResultNode,
    SuiteOutcome,
    base64url,
    excused_checks,
    problems_in,
    profile_base_url,
    run_suite,
)

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "conformance"
ENVIRONMENT_FILE = FIXTURES / "environment.json"
ATTACHMENT_FILE = FIXTURES / "attachment.png"
ATTACHMENT_CONTENT_TYPE = "image/png"
HTTP_TIMEOUT = 30.0

ALL_ELEMENT_TYPES = {
    "Property", "MultiLanguageProperty", "Range", "Blob", "File", "ReferenceElement",
    "RelationshipElement", "AnnotatedRelationshipElement", "Entity", "BasicEventElement",
    "Operation", "Capability", "SubmodelElementCollection", "SubmodelElementList",
}  # fmt: skip


def load_environment() -> dict[str, Any]:
    environment: dict[str, Any] = json.loads(ENVIRONMENT_FILE.read_text(encoding="utf-8"))
    return environment


def shell_under_test(environment: dict[str, Any]) -> dict[str, Any]:
    """The shell the tool descends into: the first one listed (the fixture loads it first)."""
    shell: dict[str, Any] = environment["assetAdministrationShells"][0]
    return shell


def submodel_under_test(environment: dict[str, Any]) -> dict[str, Any]:
    """The submodel the tool's element tests run against: the tested shell's first submodel."""
    submodel_id = shell_under_test(environment)["submodels"][0]["keys"][0]["value"]
    submodel: dict[str, Any] = next(sm for sm in environment["submodels"] if sm["id"] == submodel_id)
    return submodel


def file_element(submodel: dict[str, Any]) -> dict[str, Any]:
    """The first File element, the one the tool downloads with GetFileByPath."""
    element: dict[str, Any] = next(e for e in submodel["submodelElements"] if e["modelType"] == "File")
    return element


# --- The fixture itself (fast) ---------------------------------------------------------------------


def test_conformance_fixture_has_no_aas_core_violations() -> None:
    import aas_core3.jsonization as jsonization
    import aas_core3.verification as verification

    environment = jsonization.environment_from_jsonable(load_environment())
    violations = [f"{error.path}: {error.cause}" for error in verification.verify(environment)]
    assert violations == []


def test_conformance_fixture_passes_the_tools_file_check() -> None:
    from aas_test_engines import file as tool_file

    result = tool_file.check_json_data(load_environment())
    tree = ResultNode.from_json(result.to_dict())  # type: ignore[no-untyped-call]  # the tool is unannotated
    assert findings(tree) == []


def findings(node: ResultNode) -> list[str]:
    """Messages of every warning or error in a result tree."""
    own = [f"{node.level.name}: {node.message}"] if node.level >= Level.WARNING and not node.children else []
    return own + [line for child in node.children for line in findings(child)]


def test_conformance_fixture_gives_the_tool_every_element_type_to_check() -> None:
    environment = load_environment()
    submodel = submodel_under_test(environment)
    top_level_types = {element["modelType"] for element in submodel["submodelElements"]}
    assert top_level_types == ALL_ELEMENT_TYPES
    assert len(environment["assetAdministrationShells"]) >= 2
    assert len(environment["submodels"]) >= 3
    assert environment["conceptDescriptions"]
    assert shell_under_test(environment)["assetInformation"]["globalAssetId"]
    assert len(shell_under_test(environment)["submodels"]) >= 2, "GetAllSubmodelReferences needs two to page"
    value_types = {
        element["valueType"] for element in submodel["submodelElements"] if element["modelType"] == "Property"
    }
    assert {"xs:string", "xs:int", "xs:double", "xs:boolean", "xs:dateTime"} <= value_types


def test_conformance_fixture_lists_the_tested_shell_and_submodel_first_in_id_order() -> None:
    environment = load_environment()
    shell_ids = [shell["id"] for shell in environment["assetAdministrationShells"]]
    submodel_ids = [submodel["id"] for submodel in environment["submodels"]]
    assert shell_ids[0] == min(shell_ids)
    assert submodel_ids[0] == min(submodel_ids) == submodel_under_test(environment)["id"]


def test_installed_conformance_tool_is_the_pinned_version() -> None:
    assert version("aas_test_engines") == TOOL_VERSION


# --- The result analysis (fast): a failed setup must count as a failure ----------------------------


def _node(message: str, level: Level, *children: ResultNode) -> ResultNode:
    return ResultNode(message, level, children)


def test_failed_setup_counts_as_a_failure_although_the_tools_summary_omits_it() -> None:
    root = _node(
        "Checking compliance to X", Level.ERROR,
        _node("Trying to reach http://h", Level.INFO, _node("OK", Level.INFO)),
        _node(
            "Checking GetAllSubmodels", Level.ERROR,
            _node("Setup", Level.ERROR,
                  _node("Invoke /submodels?limit=1", Level.INFO),
                  _node("Response: (500): boom", Level.INFO),
                  _node("Got unexpected status code 500", Level.CRITICAL)),
        ),
        _node("Summary:", Level.INFO, _node("Negative tests passed: 0 / 0", Level.INFO)),
    )  # fmt: skip
    problems = problems_in(root)
    assert [(p.kind, p.operation) for p in problems] == [("failed setup", "GetAllSubmodels")]
    assert "Response: (500): boom" in problems[0].render()


def test_failed_check_and_skipped_element_check_are_problems_but_passing_checks_are_not() -> None:
    root = _node(
        "Checking compliance to X", Level.ERROR,
        _node(
            "Checking GetSubmodelElementByPath-ValueOnly", Level.ERROR,
            _node("Setup", Level.INFO),
            _node("Negative Tests", Level.INFO, _node("Set level = '#####'", Level.INFO)),
            _node("Positive Tests", Level.ERROR,
                  _node("test_no_params", Level.ERROR,
                        _node("Checking Range", Level.ERROR,
                              _node("Invoke /submodel-elements/Limits/$value", Level.INFO),
                              _node("Expected JSON, got <class 'float'>", Level.ERROR))),
                  _node("test_level_core", Level.WARNING,
                        _node("Checking Blob", Level.WARNING,
                              _node("No such element present", Level.WARNING)))),
        ),
    )  # fmt: skip
    problems = problems_in(root)
    assert [(p.kind, p.test) for p in problems] == [
        ("failed positive tests", "test_no_params"),
        ("warning", "test_level_core"),
    ]
    assert "Invoke /submodel-elements/Limits/$value" in problems[0].render()


def _value_only_suite(*property_check: ResultNode) -> ResultNode:
    """A GetSubmodelElementByPath-ValueOnly run whose Property check ends with `property_check`."""
    level = max((child.level for child in property_check), default=Level.INFO)
    return _node(
        "Checking compliance to X", level,
        _node("Checking GetSubmodelElementByPath-ValueOnly", level,
              _node("Setup", Level.INFO),
              _node("Positive Tests", level,
                    _node("test_no_params", level,
                          _node("Checking Range", Level.INFO,
                                _node("Invoke /submodel-elements/Limits/$value", Level.INFO)),
                          _node("Checking Property", level,
                                _node("Invoke /submodel-elements/Temperature/$value", Level.INFO),
                                *property_check)))),
    )  # fmt: skip


def test_the_tools_refusal_of_a_bare_property_value_is_excused_as_a_tool_defect() -> None:
    """The spec's PropertyValue is a JSON primitive; 1.0.3 wants an object or array (docs/conformance.md)."""
    for refused in ("float", "int", "str", "bool", "NoneType"):
        root = _value_only_suite(_node(f"Expected JSON, got <class '{refused}'>", Level.ERROR))
        assert problems_in(root) == [], refused
        assert excused_checks(root) == [
            "GetSubmodelElementByPath-ValueOnly / test_no_params / Checking Property"
        ]


def test_a_property_value_check_failing_for_another_reason_is_still_a_problem() -> None:
    for failure in (
        _node("Got unexpected status code 500", Level.CRITICAL),
        _node("Cannot decode as JSON: Expecting value", Level.ERROR),
        _node("Expected JSON, got <class 'float'>", Level.ERROR, _node("nested", Level.ERROR)),
    ):
        root = _value_only_suite(failure)
        assert [(p.kind, p.test) for p in problems_in(root)] == [
            ("failed positive tests", "test_no_params")
        ], failure.message
        assert excused_checks(root) == []


def test_the_pagination_check_1_0_3_always_skips_for_element_references_is_no_problem() -> None:
    skipped = _node("Cannot check pagination, there must be at least 2 entities", Level.WARNING)
    root = _node(
        "Checking compliance to X", Level.WARNING,
        _node("Checking GetAllSubmodelElements-Reference", Level.WARNING, _node("Setup", Level.INFO),
              _node("Positive Tests", Level.WARNING,
                    _node("Pagination: Fetch using cursor", Level.WARNING, skipped))),
        _node("Checking GetAllSubmodels", Level.WARNING, _node("Setup", Level.INFO),
              _node("Positive Tests", Level.WARNING,
                    _node("Pagination: Fetch using cursor", Level.WARNING, skipped))),
    )  # fmt: skip
    assert [(p.kind, p.operation) for p in problems_in(root)] == [("warning", "GetAllSubmodels")]


def test_a_clean_tree_has_no_problems() -> None:
    root = _node(
        "Checking compliance to X", Level.INFO,
        _node("Checking GetDescription", Level.INFO, _node("Setup", Level.INFO),
              _node("Positive Tests", Level.INFO, _node("Returned profiles must contain suite", Level.INFO))),
    )  # fmt: skip
    assert problems_in(root) == []


def test_path_identifiers_are_unpadded_base64url() -> None:
    assert base64url("https://example.com/ids/sm/0001_all_elements?") == (
        "aHR0cHM6Ly9leGFtcGxlLmNvbS9pZHMvc20vMDAwMV9hbGxfZWxlbWVudHM_"
    )


# --- Against a live server (slow) ------------------------------------------------------------------


def _post(base_url: str, path: str, body: dict[str, Any]) -> None:
    response = requests.post(base_url + path, json=body, timeout=HTTP_TIMEOUT)
    assert response.status_code == 201, (
        f"POST {path} {body.get('id')}: {response.status_code} {response.text}"
    )


def load_fixture(base_url: str, environment: dict[str, Any]) -> None:
    """Load through the REST API, in fixture order, so listings start with the tested entities."""
    for concept_description in environment["conceptDescriptions"]:
        _post(base_url, "/concept-descriptions", concept_description)
    for submodel in environment["submodels"]:
        _post(base_url, "/submodels", submodel)
    for shell in environment["assetAdministrationShells"]:
        _post(base_url, "/shells", shell)


def upload_and_check_attachment(base_url: str, submodel: dict[str, Any]) -> list[str]:
    """PUT the attachment of the tested File and read it back; returns what went wrong."""
    element = file_element(submodel)
    url = (
        f"{base_url}/submodels/{base64url(submodel['id'])}/submodel-elements/{element['idShort']}/attachment"
    )
    content = ATTACHMENT_FILE.read_bytes()
    upload = requests.put(
        url,
        files={"file": (ATTACHMENT_FILE.name, content, ATTACHMENT_CONTENT_TYPE)},
        data={"fileName": ATTACHMENT_FILE.name},
        timeout=HTTP_TIMEOUT,
    )
    if upload.status_code not in (200, 204):
        return [f"PUT {url}: expected 204, got {upload.status_code} {upload.text[:300]}"]
    download = requests.get(url, timeout=HTTP_TIMEOUT)
    problems = []
    if download.status_code != 200:
        problems.append(f"GET {url}: expected 200, got {download.status_code} {download.text[:300]}")
    elif download.content != content:
        problems.append(f"GET {url}: {len(download.content)} bytes differ from the {len(content)} uploaded")
    media_type = download.headers.get("Content-Type", "").split(";")[0].strip()
    if download.status_code == 200 and media_type != ATTACHMENT_CONTENT_TYPE:
        problems.append(f"GET {url}: Content-Type {media_type!r}, expected {ATTACHMENT_CONTENT_TYPE!r}")
    return problems


def description_problems(base_url: str, outcomes: list[SuiteOutcome]) -> list[str]:
    """Of the profiles the tool can test, `/description` lists exactly those that passed.

    Each may come with its 3/1 twin. Profiles the tool knows nothing of (SSP-001, the concept
    description repository) are left to the tests that exercise them.
    """
    response = requests.get(base_url + "/description", timeout=HTTP_TIMEOUT)
    if response.status_code != 200:
        return [f"GET /description: {response.status_code} {response.text[:300]}"]
    listed = set(response.json().get("profiles", []))
    testable = {profile.uri for profile in ALL_PROFILES}
    passed = {outcome.profile.uri for outcome in outcomes if outcome.passed}
    problems = [f"/description lacks {uri}, which passed" for uri in sorted(passed - listed)]
    for uri in sorted(testable - passed):
        for claimed in (uri, twin_in_version_3_1(uri)):
            if claimed in listed:
                problems.append(f"/description lists {claimed}, but that profile's suite failed")
    return problems


def twin_in_version_3_1(profile_uri: str) -> str:
    return profile_uri.replace("/API/3/0/", "/API/3/1/")


def failure_report(outcomes: list[SuiteOutcome], other: list[str]) -> str:
    counts = Counter(problem.kind for outcome in outcomes for problem in outcome.problems)
    lines = [f"problems by kind: {dict(counts)}", *other]
    lines += [outcome.render() for outcome in outcomes]
    return "\n\n".join(lines)


@pytest.mark.slow
def test_all_four_idta_profiles_pass_and_description_lists_exactly_them(live_server: str) -> None:
    environment = load_environment()
    shell, submodel = shell_under_test(environment), submodel_under_test(environment)
    load_fixture(live_server, environment)
    other_problems = upload_and_check_attachment(live_server, submodel)

    outcomes = [
        run_suite(
            profile, profile_base_url(profile, live_server, shell_id=shell["id"], submodel_id=submodel["id"])
        )
        for profile in ALL_PROFILES
    ]
    other_problems += description_problems(live_server, outcomes)

    assert not other_problems and all(outcome.passed for outcome in outcomes), failure_report(
        outcomes, other_problems
    )


def test_service_profiles_go_through_the_superpaths_of_the_tested_shell_and_submodel() -> None:
    shell_url = profile_base_url(AAS_SERVICE, "http://h", shell_id="urn:a", submodel_id="urn:s")
    submodel_url = profile_base_url(SUBMODEL_SERVICE, "http://h", shell_id="urn:a", submodel_id="urn:s")
    assert (shell_url, submodel_url) == ("http://h/shells/dXJuOmE", "http://h/submodels/dXJuOnM")
    assert profile_base_url(AAS_REPOSITORY, "http://h", shell_id="urn:a", submodel_id="urn:s") == "http://h"

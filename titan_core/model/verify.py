"""Parse and verify Part 2 JSON with aas-core3.0 (write paths only), with errors that name the JSON path.

Strict mode (the REST API) refuses any meta-model violation; lenient mode (`titan load --lenient`)
returns them so real-world files, which are often slightly invalid, can still be stored.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from aas_core3 import jsonization, types, verification

from titan_core.errors import BadRequest, InvalidModel, Violation

Kind = Literal[
    "shell",
    "submodel",
    "concept_description",
    "submodel_element",
    "environment",
    "asset_information",
    "reference",
    "specific_asset_id",
]

MAX_JSON_DEPTH = 200
"""Deepest JSON nesting accepted (a submodel element ~90 levels down); aas-core recurses per level."""

MAX_LISTED_VIOLATIONS = 50

SUBMODEL_ELEMENT_TYPES = (
    "AnnotatedRelationshipElement",
    "BasicEventElement",
    "Blob",
    "Capability",
    "Entity",
    "File",
    "MultiLanguageProperty",
    "Operation",
    "Property",
    "Range",
    "ReferenceElement",
    "RelationshipElement",
    "SubmodelElementCollection",
    "SubmodelElementList",
)


@dataclass(frozen=True)
class _KindInfo:
    label: str
    parse: Callable[[Any], types.Class]
    model_types: tuple[str, ...] = ()  # empty: the kind has no modelType member


_KINDS: dict[str, _KindInfo] = {
    "shell": _KindInfo(
        "AssetAdministrationShell",
        jsonization.asset_administration_shell_from_jsonable,
        ("AssetAdministrationShell",),
    ),
    "submodel": _KindInfo("Submodel", jsonization.submodel_from_jsonable, ("Submodel",)),
    "concept_description": _KindInfo(
        "ConceptDescription", jsonization.concept_description_from_jsonable, ("ConceptDescription",)
    ),
    "submodel_element": _KindInfo(
        "submodel element", jsonization.submodel_element_from_jsonable, SUBMODEL_ELEMENT_TYPES
    ),
    "environment": _KindInfo("Environment", jsonization.environment_from_jsonable),
    "asset_information": _KindInfo("AssetInformation", jsonization.asset_information_from_jsonable),
    "reference": _KindInfo("Reference", jsonization.reference_from_jsonable),
    "specific_asset_id": _KindInfo("SpecificAssetId", jsonization.specific_asset_id_from_jsonable),
}


@dataclass(frozen=True)
class VerifiedModel:
    """A parsed object: its normalised Part 2 JSON, the aas-core instance and (lenient) its violations."""

    jsonable: dict[str, Any]
    instance: types.Class
    violations: list[Violation] = field(default_factory=list)


def parse_and_verify(kind: Kind, jsonable: object, *, lenient: bool = False) -> VerifiedModel:
    """Parse `jsonable` (already JSON-decoded) as a `kind` and check every meta-model constraint.

    Raises `InvalidModel` when the JSON does not have the shape of a `kind` (with the JSON path of the
    first problem), and in strict mode when any constraint is violated (listing at most
    `MAX_LISTED_VIOLATIONS`). Lenient mode returns the violations instead. `BadRequest` for nesting
    deeper than `MAX_JSON_DEPTH`.
    """
    info = _KINDS[kind]
    _check_shape(info, jsonable)
    check_json_depth(jsonable, MAX_JSON_DEPTH)
    try:
        instance = info.parse(jsonable)
    except jsonization.DeserializationException as error:
        path = str(error.path)
        raise InvalidModel(
            f"Not a valid {info.label} in Part 2 JSON",
            violations=[Violation(path, _readable_cause(error.cause))],
        ) from None
    except RecursionError:  # a backstop: check_json_depth should have refused such input already
        raise BadRequest(f"The {info.label} is nested too deeply to be processed") from None

    if lenient:
        violations = [_violation(error) for error in verification.verify(instance)]
    else:
        violations, total = _first_violations(verification.verify(instance), MAX_LISTED_VIOLATIONS)
        if violations:
            more = total - len(violations)
            suffix = f"; the first {len(violations)} are listed, {more} more are not" if more else ""
            raise InvalidModel(
                f"The {info.label} violates {total} constraint(s) of the AAS meta-model{suffix}",
                violations=violations,
            )
    normalised = jsonization.to_jsonable(instance)
    assert isinstance(normalised, dict)  # every kind above serialises to a JSON object
    return VerifiedModel(jsonable=normalised, instance=instance, violations=violations)


def check_json_depth(obj: object, max_depth: int = MAX_JSON_DEPTH) -> None:
    """`BadRequest` when JSON arrays/objects in `obj` nest deeper than `max_depth` (top level = 1).

    Iterative, so hostile input cannot make this check itself overflow the stack.
    """
    if not isinstance(obj, dict | list):
        return
    stack: list[tuple[dict[str, Any] | list[Any], int]] = [(obj, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > max_depth:
            raise BadRequest(f"The JSON body nests arrays and objects more than {max_depth} levels deep")
        children: Iterable[Any] = node.values() if isinstance(node, dict) else node
        for child in children:
            if isinstance(child, dict | list):
                stack.append((child, depth + 1))


def _check_shape(info: _KindInfo, jsonable: object) -> None:
    expected = _expectation(info)
    if not isinstance(jsonable, dict):
        raise InvalidModel(f"Expected {expected}, got {_json_kind(jsonable)}")
    if not info.model_types:
        return
    model_type = jsonable.get("modelType")
    if model_type is None:
        raise InvalidModel(f"The member 'modelType' is missing: expected {expected}")
    if model_type not in info.model_types:
        raise InvalidModel(f"Expected {expected}, got modelType {model_type!r}")


def _expectation(info: _KindInfo) -> str:
    if not info.model_types:
        return f"a JSON object (a {info.label})"
    if len(info.model_types) == 1:
        return f"a JSON object with modelType {info.model_types[0]!r}"
    return "a JSON object with modelType one of " + ", ".join(info.model_types)


def _first_violations(errors: Iterator[verification.Error], limit: int) -> tuple[list[Violation], int]:
    listed: list[Violation] = []
    total = 0
    for error in errors:
        total += 1
        if total <= limit:
            listed.append(_violation(error))
    return listed, total


def _violation(error: verification.Error) -> Violation:
    return Violation(_json_path(str(error.path)), error.cause)


_PROPERTY = re.compile(r"\.([a-z][a-z0-9_]*)")
_CAMEL_CACHE: dict[str, str] = {}


def _json_path(python_path: str) -> str:
    """A verification path in JSON names: `.submodel_elements[0].id_short` -> `submodelElements[0].idShort`.

    aas-core's JSON names are exactly the camelCase of its Python property names.
    """
    return _PROPERTY.sub(_camel_segment, python_path).lstrip(".")


def _camel_segment(match: re.Match[str]) -> str:
    name = match.group(1)
    camel = _CAMEL_CACHE.get(name)
    if camel is None:
        head, *rest = name.split("_")
        camel = _CAMEL_CACHE[name] = head + "".join(part[:1].upper() + part[1:] for part in rest)
    return "." + camel


_PYTHON_TYPE = re.compile(r"<class '(\w+)'>")
_EXPECTED_PYTHON_TYPE = re.compile(r"Expected an? (str|int|float|bool|list|dict)\b")
_JSON_TYPE_NAMES = {
    "str": "a string",
    "int": "a number",
    "float": "a number",
    "bool": "a boolean",
    "list": "an array",
    "dict": "an object",
    "NoneType": "null",
}


def _readable_cause(cause: str) -> str:
    """aas-core speaks of Python types (`<class 'list'>`); clients sent JSON."""
    cause = _PYTHON_TYPE.sub(lambda match: _JSON_TYPE_NAMES.get(match.group(1), match.group(1)), cause)
    return _EXPECTED_PYTHON_TYPE.sub(
        lambda match: "Expected " + _JSON_TYPE_NAMES.get(match.group(1), match.group(1)), cause
    )


def _json_kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "a JSON value"

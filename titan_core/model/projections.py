"""Part 2 content and level modifiers on JSON dicts: `$metadata`, `$reference`, `$path`, `level`, `extent`.

None of these mutate what they are given; results share unchanged sub-dicts with the input (copy on
write), so they are cheap but must be treated as read-only.
"""

from __future__ import annotations

from typing import Any, Literal

from titan_core.errors import BadRequest
from titan_core.model.elements import (
    CHILDREN_KEY,
    OPERATION_VARIABLE_KEYS,
    iter_elements,
    walk_path,
)
from titan_core.model.paths import IdShortPath, format_id_short_path
from titan_core.model.verify import SUBMODEL_ELEMENT_TYPES

JsonDict = dict[str, Any]

# Part2-API-Schemas `SubmodelElementAttributes`: Referable (with HasExtensions), HasDataSpecification,
# HasSemantics, Qualifiable, HasKind. Every `...Metadata` schema is this set plus the extras below;
# everything else of an element (value, valueId, contentType, first/second, statements, entityType,
# globalAssetId, observed, the Operation variables, ...) is content, not metadata.
_ELEMENT_METADATA_KEYS = frozenset(
    {
        "modelType",
        "extensions",
        "category",
        "idShort",
        "displayName",
        "description",
        "embeddedDataSpecifications",
        "semanticId",
        "supplementalSemanticIds",
        "qualifiers",
        "kind",
    }
)
_EXTRA_METADATA_KEYS: dict[str, frozenset[str]] = {
    "Property": frozenset({"valueType"}),
    "Range": frozenset({"valueType"}),
    "SubmodelElementList": frozenset(
        {"orderRelevant", "semanticIdListElement", "typeValueListElement", "valueTypeListElement"}
    ),
    "BasicEventElement": frozenset(
        {
            "direction",
            "state",
            "messageTopic",
            "messageBroker",
            "lastUpdate",
            "minInterval",
            "maxInterval",
            "observed",
        }
    ),
    # The attributes below are content by the schemas, but mandatory in the meta-model: without them
    # a `$metadata` result is no valid element, and the IDTA test engine (which parses the result as
    # one) refuses it. Keeping mandatory attributes is the documented deviation (docs/rest-api.md).
    "Blob": frozenset({"contentType"}),
    "File": frozenset({"contentType"}),
    "RelationshipElement": frozenset({"first", "second"}),
    "AnnotatedRelationshipElement": frozenset({"first", "second"}),
    # AASd-014: a self-managed entity must name its asset, so those stay with entityType.
    "Entity": frozenset({"entityType", "globalAssetId", "specificAssetIds"}),
}
_METADATA_KEYS: dict[str, frozenset[str]] = {
    model_type: _ELEMENT_METADATA_KEYS | _EXTRA_METADATA_KEYS.get(model_type, frozenset())
    for model_type in SUBMODEL_ELEMENT_TYPES
}
# Identifiables: everything except their content (AssetAdministrationShellMetadata / SubmodelMetadata).
_NOT_METADATA_OF_IDENTIFIABLE: dict[str, frozenset[str]] = {
    "Submodel": frozenset({"submodelElements"}),
    "AssetAdministrationShell": frozenset({"assetInformation", "submodels"}),
}


def metadata_of(obj: JsonDict) -> JsonDict:
    """`$metadata` of a submodel, shell or submodel element, per the Part 2 `...Metadata` schemas.

    A submodel loses `submodelElements`, a shell `assetInformation` and `submodels`; an element keeps
    only its SubmodelElementAttributes plus `valueType` (Property, Range), the list settings
    (SubmodelElementList) or the event settings (BasicEventElement).
    """
    model_type = obj.get("modelType", "")
    dropped = _NOT_METADATA_OF_IDENTIFIABLE.get(model_type)
    if dropped is not None:
        return {key: value for key, value in obj.items() if key not in dropped}
    kept = _METADATA_KEYS.get(model_type)
    if kept is None:
        raise BadRequest(f"$metadata is not defined for a {model_type or 'object without modelType'}")
    return {key: value for key, value in obj.items() if key in kept}


def reference_of_shell(shell_id: str) -> JsonDict:
    """`$reference` of a shell: a ModelReference with one AssetAdministrationShell key."""
    return _model_reference("AssetAdministrationShell", shell_id)


def reference_of_submodel(submodel_id: str) -> JsonDict:
    """`$reference` of a submodel: a ModelReference with one Submodel key."""
    return _model_reference("Submodel", submodel_id)


def reference_of_concept_description(concept_description_id: str) -> JsonDict:
    """A ModelReference with one ConceptDescription key."""
    return _model_reference("ConceptDescription", concept_description_id)


def reference_of_element(submodel_id: str, submodel: JsonDict, path: IdShortPath) -> JsonDict:
    """`$reference` of the element at `path`: the Submodel key, then one key per element on the way.

    Key types are the elements' modelTypes; an item of a SubmodelElementList is keyed by its index
    as a decimal string (Part 1, Key/value). Raises what `walk_path` raises for a bad path.
    """
    keys = [{"type": "Submodel", "value": submodel_id}]
    for segment, element in zip(path, walk_path(submodel, path), strict=True):
        keys.append({"type": element.get("modelType", ""), "value": str(segment)})
    return {"type": "ModelReference", "keys": keys}


def paths_of(
    obj: JsonDict, base_path: IdShortPath = (), *, level: Literal["deep", "core"] = "deep"
) -> list[str]:
    """`$path`: the idShortPaths of `obj` and of its children, in document order.

    For a submodel the list starts at its first element (the submodel itself has no idShortPath);
    for an element at `base_path` it starts with that path. `level="core"` lists direct children only.
    """
    paths: list[str] = []
    if obj.get("modelType") != "Submodel":
        if not base_path:
            raise BadRequest("$path of a submodel element needs the element's idShortPath")
        paths.append(format_id_short_path(base_path))
    for relative, _ in iter_elements(obj, level=level):
        paths.append(format_id_short_path((*base_path, *relative)))
    return paths


def apply_level_core(obj: JsonDict) -> JsonDict:
    """`level=core`: `obj` with its direct children, each child without its own children.

    Children here are those of Part 2's Level table (submodelElements, value of collections and lists,
    statements, annotations); the stripped member is left out entirely, as in the spec's example.
    Returns `obj` itself when it has no children.
    """
    key = CHILDREN_KEY.get(obj.get("modelType", ""))
    if key is None:
        return obj
    children = obj.get(key)
    if not isinstance(children, list) or not children:
        return obj
    shallow = dict(obj)
    shallow[key] = [_without_children(child) for child in children]
    return shallow


def without_blob_values(obj: JsonDict) -> JsonDict:
    """`extent=withoutBlobValue` (the default): every Blob in `obj`, itself included, without `value`.

    Reaches Blobs inside Operation variables too. Returns `obj` itself when there is nothing to strip.
    """
    model_type = obj.get("modelType")
    if model_type == "Blob":
        if "value" not in obj:
            return obj
        return {key: value for key, value in obj.items() if key != "value"}
    key = CHILDREN_KEY.get(model_type or "")
    if key is not None:
        children = obj.get(key)
        if isinstance(children, list):
            stripped = _strip_list(children)
            if stripped is not children:
                return {**obj, key: stripped}
        return obj
    if model_type == "Operation":
        result: JsonDict | None = None
        for variables_key in OPERATION_VARIABLE_KEYS:
            variables = obj.get(variables_key)
            if not isinstance(variables, list):
                continue
            stripped_variables = _strip_operation_variables(variables)
            if stripped_variables is not variables:
                result = dict(obj) if result is None else result
                result[variables_key] = stripped_variables
        return obj if result is None else result
    return obj


def contains_blob(obj: JsonDict) -> bool:
    """Whether `obj` is or contains a Blob anywhere (Operation variables included)."""
    stack = [obj]
    while stack:
        node = stack.pop()
        model_type = node.get("modelType")
        if model_type == "Blob":
            return True
        key = CHILDREN_KEY.get(model_type or "")
        if key is not None:
            children = node.get(key)
            if isinstance(children, list):
                stack.extend(child for child in children if isinstance(child, dict))
        elif model_type == "Operation":
            for variables_key in OPERATION_VARIABLE_KEYS:
                for variable in node.get(variables_key) or ():
                    value = variable.get("value") if isinstance(variable, dict) else None
                    if isinstance(value, dict):
                        stack.append(value)
    return False


def _model_reference(key_type: str, identifier: str) -> JsonDict:
    return {"type": "ModelReference", "keys": [{"type": key_type, "value": identifier}]}


def _without_children(element: JsonDict) -> JsonDict:
    key = CHILDREN_KEY.get(element.get("modelType", ""))
    if key is None or key not in element:
        return element
    return {name: value for name, value in element.items() if name != key}


def _strip_list(elements: list[Any]) -> list[Any]:
    result: list[Any] | None = None
    for index, element in enumerate(elements):
        stripped = without_blob_values(element) if isinstance(element, dict) else element
        if stripped is not element:
            if result is None:
                result = list(elements)
            result[index] = stripped
    return elements if result is None else result


def _strip_operation_variables(variables: list[Any]) -> list[Any]:
    result: list[Any] | None = None
    for index, variable in enumerate(variables):
        value = variable.get("value") if isinstance(variable, dict) else None
        if not isinstance(value, dict):
            continue
        stripped = without_blob_values(value)
        if stripped is not value:
            if result is None:
                result = list(variables)
            result[index] = {**variable, "value": stripped}
    return variables if result is None else result

"""The ValueOnly form (`$value`, MQTT payloads, `valueChanged` data) of Part 2 JSON elements, both ways.

Pure functions on the stored JSON dicts, without aas-core parsing of submodels: a Property write is a
few dict operations plus one XSD lexical check. Results share unchanged sub-dicts with their input
(copy on write), so treat both as read-only.

Choices where IDTA Part 1 ("Format Value") and Part 2 are silent or disagree:
- Numbers are exact, or strings. Integer types give JSON integers of any size (the JSON text is exact;
  the spec's 2^53 note is a limit of some parsers). xs:decimal gives an integer when integral, a float
  when the float's shortest text is the same decimal, otherwise its lexical string. xs:double/xs:float
  give floats, but INF, -INF and NaN (no JSON numbers) stay strings. Stored text that does not parse as
  its valueType (leniently loaded files) is returned as stored.
- Writing a value equal to the stored one (23.5 onto "23.50", true onto "1") keeps the stored text, so
  a round trip changes nothing and reports no change. A value that comes back exactly as it was read
  is never refused, even where leniently loaded data breaks a rule: read-modify-write of a whole
  submodel must work. Numeric and boolean strings are accepted when they are valid lexical values;
  numbers are never accepted for string types.
- Operation and Capability have no value: left out inside containers, refused when addressed. A list
  of only such elements is left out too (Part 1's example).
- A data element without a value is left out inside collections and submodels, and is `null` in a list
  (keeping positions) and when addressed. Writing `null` (or `[]` to a MultiLanguageProperty) clears
  an optional value; `null` for a mandatory member (File contentType, first, observed...) is refused.
- Writes merge: a member or child that is absent stays as it is (so a Blob read without its contents
  can be written back). Unknown members and idShorts are refused; a list takes at most as many values
  as it has elements, applied from index 0 (Part 2, SerializationModifier examples).
- References and SpecificAssetIds are in format Normal, referredSemanticId included; SpecificAssetIds
  are also accepted as `{name: value}`. Annotations are written as an array of `{idShort: value}`
  (Part 1 text and example), Entity statements as an object (Part 1 schema and example); both accept
  either shape. A MultiLanguageProperty also accepts one `{language: text, ...}` object.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from titan_core.errors import BadRequest, Violation
from titan_core.model.member_values import (
    ValueRefused,
    json_excerpt,
    json_value,
    named_pairs,
    stored_asset_ids,
    stored_base64,
    stored_content_type,
    stored_entity_type,
    stored_identifier,
    stored_lang_strings,
    stored_lexical,
    stored_path,
    stored_referable_reference,
    stored_reference,
)

JsonDict = dict[str, Any]
VALUE_CONTAINERS = frozenset({"SubmodelElementCollection", "SubmodelElementList"})
"""Element types whose value is their children's values: changes are reported for the children."""
NO_VALUE_TYPES = frozenset({"Operation", "Capability"})
"""Element types without a ValueOnly form: left out inside containers, refused when addressed."""
_NO_VALUE_FORM: Any = object()  # what Operation / Capability read as: nothing, not even null
_NO_VALUE_REASON = "the ValueOnly serialization leaves out Operations and Capabilities"
_REFUSED = "The value does not fit the element; nothing was changed"


# ---------------------------------------------------------------------------------------- reading
def element_value(element: JsonDict, *, include_blob_values: bool = False) -> Any:
    """The element's ValueOnly form: the bare JSON value of a Property, an object or array otherwise.

    `None` for a data element without a value; `BadRequest` for an Operation or a Capability.
    """
    value = _read(element, include_blob_values)
    if value is _NO_VALUE_FORM:
        raise BadRequest(f"{_describe(element)} has no value: {_NO_VALUE_REASON}")
    return value


def submodel_value(submodel: JsonDict, *, include_blob_values: bool = False) -> JsonDict:
    """`{idShort: value, ...}` of the submodel's elements, for `GET /submodels/{id}/$value`."""
    return _read_named(submodel.get("submodelElements"), include_blob_values)


def _read(element: JsonDict, blobs: bool) -> Any:
    model_type = element.get("modelType", "")
    if model_type == "Property":  # the hot path: events and device reads
        return json_value(element["value"], element.get("valueType")) if "value" in element else None
    if model_type == "SubmodelElementCollection":
        return _read_named(element.get("value"), blobs)
    if model_type == "SubmodelElementList":
        values = [_read(child, blobs) for child in element.get("value") or ()]
        if values and all(value is _NO_VALUE_FORM for value in values):
            return _NO_VALUE_FORM
        return [None if value is _NO_VALUE_FORM else value for value in values]
    if model_type == "MultiLanguageProperty":
        return [{item.get("language"): item.get("text")} for item in element.get("value") or ()] or None
    if model_type == "ReferenceElement":
        return element.get("value")
    members = _MEMBERS.get(model_type)
    if members is None:
        return _NO_VALUE_FORM
    result: JsonDict = {}
    for name, convert in members.items():
        if name not in element or (name == "value" and model_type == "Blob" and not blobs):
            continue
        if convert is _to_children:
            if element[name]:
                named = _read_named(element[name], blobs)
                result[name] = (
                    [{key: value} for key, value in named.items()] if name == "annotations" else named
                )
        elif convert is _to_lexical:
            result[name] = json_value(element[name], element.get("valueType"))
        else:
            result[name] = element[name]
    return result if result or model_type != "Range" else None


def _read_named(children: list[JsonDict] | None, blobs: bool) -> JsonDict:
    result: JsonDict = {}
    for child in children or ():
        value = _read(child, blobs)
        if value is not None and value is not _NO_VALUE_FORM:
            result[child.get("idShort", "")] = value
    return result


# ---------------------------------------------------------------------------------------- writing
def apply_element_value(element: JsonDict, value: Any, *, path: str) -> JsonDict:
    """A new `element` holding `value` (ValueOnly form), after checking it against the element's type.

    `path` is the element's idShortPath, used in violations. Raises `BadRequest` listing every part of
    `value` that does not fit; nothing is applied then.
    """
    if element.get("modelType") != "Property" or value is None:
        return apply_element_value_tracked(element, value, path=path)[0]
    # The device-write hot path: the rules of _apply_members for the one member, without its set-up.
    stored = element.get("value")
    try:
        return {**element, "value": stored_lexical(value, stored, element.get("valueType"))}
    except ValueRefused as refusal:
        if _reads_as(stored, value, element):
            return dict(element)
        raise BadRequest(_REFUSED, [Violation(path, str(refusal))]) from None


def apply_element_value_tracked(
    element: JsonDict, value: Any, *, path: str
) -> tuple[JsonDict, list[tuple[str, Any]]]:
    """`apply_element_value`, plus `(idShortPath, new value)` for each element whose own value changed.

    Collections and lists report their changed descendants, not themselves; an Entity or annotated
    relationship reports itself only for its own members. Values leave out Blob contents, as events do.
    """
    write = _Write()
    new_element = _apply(element, value, path, write)
    write.raise_if_refused()
    return new_element, write.changes


def apply_submodel_value(submodel: JsonDict, value: Any) -> tuple[JsonDict, list[tuple[str, Any]]]:
    """A new `submodel` with `value` (`{idShort: value}`) merged in, plus its changes in document order.

    The changes are `(idShortPath, new value)` as `apply_element_value_tracked` reports them.
    """
    write = _Write()
    new_elements = _apply_named(submodel.get("submodelElements"), value, "", write)
    write.raise_if_refused()
    return _with(submodel, "submodelElements", new_elements), write.changes


def own_value_members(model_type: str) -> tuple[str, ...] | None:
    """The members that are the element's own value when it also has child elements; else None.

    Entity: entityType, globalAssetId, specificAssetIds; AnnotatedRelationshipElement: first, second.
    A change to one is a valueChanged of the element; changes below statements or annotations are the
    children's. Other types' ValueOnly form is all their own value, or all their children's.
    """
    return _OWN_VALUE[model_type] if model_type in _WITH_CHILD_MEMBERS else None


@dataclass
class _Write:
    """What one write collects on its way down: the refusals, and the elements whose value changed."""

    violations: list[Violation] = field(default_factory=list)
    changes: list[tuple[str, Any]] = field(default_factory=list)

    def refuse(self, path: str, message: str, member: str = "") -> None:
        separator = "" if message.startswith("[") else ": "  # "specificAssetIds[0].name: ..."
        self.violations.append(Violation(path, f"{member}{separator}{message}" if member else message))

    def raise_if_refused(self) -> None:
        if self.violations:
            raise BadRequest(_REFUSED, self.violations)


def _apply(element: JsonDict, value: Any, path: str, write: _Write) -> JsonDict:
    model_type = element.get("modelType", "")
    if model_type in _SINGLE_MEMBER:  # the element's value is its "value" member; messages name no member
        new_element = _apply_members(element, {"value": value}, path, write, named=False)
    elif model_type in _MEMBERS:
        new_element = _apply_members(element, value, path, write, named=True)
    elif model_type == "SubmodelElementCollection":
        new_element = _with(element, "value", _apply_named(element.get("value"), value, path, write))
    elif model_type == "SubmodelElementList":
        new_element = _apply_list(element, value, path, write)
    elif model_type in NO_VALUE_TYPES:
        write.refuse(path, f"{_describe(element)} has no value: {_NO_VALUE_REASON}")
        return element
    else:
        write.refuse(path, f"{_describe(element)} is no submodel element type this server knows")
        return element
    if any(element.get(name) != new_element.get(name) for name in _OWN_VALUE.get(model_type, ())):
        write.changes.append((path, _read(new_element, False)))
    return new_element


def _apply_members(element: JsonDict, value: Any, path: str, write: _Write, *, named: bool) -> JsonDict:
    members = _MEMBERS[element["modelType"]]
    if value is None:  # clears what may be cleared
        value = dict.fromkeys(members)
    if not isinstance(value, dict):
        write.refuse(path, f"expected an object with {' and/or '.join(members)}, got {json_excerpt(value)}")
        return element
    result = dict(element)
    first_violation = len(write.violations)
    for name, incoming in value.items():
        convert = members.get(name)
        label = name if named else ""
        if convert is None:
            write.refuse(path, f"unknown member {json.dumps(name)}; accepted: {', '.join(members)}")
        elif incoming is None and name in _MANDATORY:
            write.refuse(path, "cannot be null", name)
        elif incoming is None:
            result.pop(name, None)
        else:
            stored = element.get(name)
            try:
                result = _with(result, name, convert(incoming, stored, element, path, write))
            except ValueRefused as refusal:
                if not _reads_as(stored, incoming, element):
                    write.refuse(path, str(refusal), label)
    if element["modelType"] == "Entity" and len(write.violations) == first_violation:
        _check_entity(element, result, path, write)
    return result


def _reads_as(stored: Any, incoming: Any, element: JsonDict) -> bool:
    """Whether `incoming` is exactly (JSON types included) how the stored member reads."""
    if isinstance(stored, str) and "valueType" in element:
        stored = json_value(stored, element["valueType"])
    return json.dumps(incoming, sort_keys=True, default=repr) == json.dumps(
        stored, sort_keys=True, default=repr
    )


def _check_entity(element: JsonDict, result: JsonDict, path: str, write: _Write) -> None:
    """Constraint AASd-014 as aas-core3.0 checks it, when a write touches the members it involves."""
    if all(result.get(name) == element.get(name) for name in _OWN_VALUE["Entity"]):
        return
    has_global = "globalAssetId" in result
    has_specific = "specificAssetIds" in result
    if result.get("entityType") == "SelfManagedEntity":
        valid = has_global != has_specific
    else:
        valid = not has_global and not has_specific
    if not valid:
        held = " and ".join(
            name
            for name, present in (("globalAssetId", has_global), ("specificAssetIds", has_specific))
            if present
        )
        write.refuse(
            path,
            "Constraint AASd-014: a SelfManagedEntity has either a globalAssetId or specificAssetIds (not "
            f"both), a CoManagedEntity has neither; after this write the {result.get('entityType')} "
            f"would have {held or 'neither'}",
        )


def _apply_list(element: JsonDict, value: Any, path: str, write: _Write) -> JsonDict:
    children = element.get("value") or []
    if not isinstance(value, list):
        write.refuse(
            path, f"expected an array with the values of the list's elements, got {json_excerpt(value)}"
        )
        return element
    if len(value) > len(children):
        count = f"got {len(value)} values for a list of {len(children)} elements"
        write.refuse(path, f"{count}; a value write cannot add elements")
        return element
    new_children = list(children)
    for index, child_value in enumerate(value):
        new_children[index] = _apply(children[index], child_value, f"{path}[{index}]", write)
    return _with(element, "value", new_children if value else element.get("value"))


def _apply_named(children: list[JsonDict] | None, value: Any, path: str, write: _Write) -> Any:
    """`children` updated by idShort from an object, or from an array of single-member objects."""
    items = named_pairs(value)
    if items is None:
        write.refuse(
            path, f"expected an object with the values of elements by idShort, got {json_excerpt(value)}"
        )
        return children
    if not items:
        return children
    positions = {child.get("idShort"): index for index, child in enumerate(children or ())}
    new_children = list(children or ())
    seen: set[str] = set()
    for id_short, child_value in items:
        child_path = f"{path}.{id_short}" if path else id_short
        position = positions.get(id_short)
        if id_short in seen:
            write.refuse(child_path, "the idShort comes more than once")
        elif position is None:
            known = ", ".join(str(name) for name in list(positions)[:10]) or "none"
            write.refuse(
                child_path, f"no such element; a value write changes existing elements only (here: {known})"
            )
        else:
            new_children[position] = _apply(new_children[position], child_value, child_path, write)
        seen.add(id_short)
    return new_children


def _with(element: JsonDict, key: str, value: Any) -> JsonDict:
    """A copy of `element` with `key` set to `value`, or without `key` when `value` is None."""
    result = dict(element)
    if value is None:
        result.pop(key, None)
    else:
        result[key] = value
    return result


def _describe(element: JsonDict) -> str:
    id_short = element.get("idShort")
    model_type = str(element.get("modelType", "the element"))
    return f"{model_type} {json.dumps(id_short)}" if id_short else model_type


# Member converters: (incoming, stored, element, path, write) -> what to store (None: remove the member),
# or raise ValueRefused. Only _to_children records violations itself, under the children's paths.
Converter = Callable[[Any, Any, JsonDict, str, "_Write"], Any]


def _to_lexical(incoming: Any, stored: Any, element: JsonDict, path: str, write: _Write) -> str:
    return stored_lexical(incoming, stored, element.get("valueType"))


def _to_children(incoming: Any, stored: Any, element: JsonDict, path: str, write: _Write) -> Any:
    return _apply_named(stored, incoming, path, write)


def _checked(stored_form: Callable[[Any], Any]) -> Converter:
    """The converter of a member whose stored form depends on the incoming value alone."""

    def convert(incoming: Any, stored: Any, element: JsonDict, path: str, write: _Write) -> Any:
        return stored_form(incoming)

    return convert


_to_lang_strings = _checked(stored_lang_strings)
_to_reference = _checked(stored_reference)
_to_referable_reference = _checked(stored_referable_reference)
_to_asset_ids = _checked(stored_asset_ids)
_to_base64 = _checked(stored_base64)
_to_entity_type = _checked(stored_entity_type)
_to_content_type = _checked(stored_content_type)
_to_path = _checked(stored_path)
_to_identifier = _checked(stored_identifier)
_RELATIONSHIP: dict[str, Converter] = {"first": _to_reference, "second": _to_reference}
# Per modelType: its value members and how each is checked. Order is the order of the ValueOnly output.
_MEMBERS: dict[str, dict[str, Converter]] = {
    "Property": {"value": _to_lexical},
    "MultiLanguageProperty": {"value": _to_lang_strings},
    "ReferenceElement": {"value": _to_reference},
    "Range": {"min": _to_lexical, "max": _to_lexical},
    "File": {"contentType": _to_content_type, "value": _to_path},
    "Blob": {"contentType": _to_content_type, "value": _to_base64},
    "RelationshipElement": _RELATIONSHIP,
    "AnnotatedRelationshipElement": _RELATIONSHIP | {"annotations": _to_children},
    "BasicEventElement": {"observed": _to_referable_reference},
    "Entity": {
        "statements": _to_children, "entityType": _to_entity_type,
        "globalAssetId": _to_identifier, "specificAssetIds": _to_asset_ids,
    },
}  # fmt: skip
_SINGLE_MEMBER = frozenset({"Property", "MultiLanguageProperty", "ReferenceElement"})
_MANDATORY = frozenset(
    {"contentType", "first", "second", "observed", "entityType", "statements", "annotations"}
)
# The members that are an element's own value: a change to one is a valueChanged of that element.
_OWN_VALUE = {
    model_type: tuple(name for name, convert in members.items() if convert is not _to_children)
    for model_type, members in _MEMBERS.items()
}
_WITH_CHILD_MEMBERS = frozenset(
    model_type for model_type, members in _MEMBERS.items() if _to_children in members.values()
)

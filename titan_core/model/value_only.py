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

import base64
import binascii
import json
import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from aas_core3 import jsonization, verification
from aas_core3 import types as aas_types

from titan_core.errors import BadRequest, Violation

JsonDict = dict[str, Any]
_NO_VALUE_FORM: Any = object()  # what Operation / Capability read as: nothing, not even null
_NO_VALUE_REASON = "the ValueOnly serialization leaves out Operations and Capabilities"
_REFUSED = "The value does not fit the element; nothing was changed"

_XSD = {member.value: member for member in aas_types.DataTypeDefXSD}
_INTEGER_RANGES = {
    "xs:byte": "-128 to 127", "xs:short": "-32768 to 32767", "xs:int": "-2147483648 to 2147483647",
    "xs:long": "-9223372036854775808 to 9223372036854775807", "xs:unsignedByte": "0 to 255",
    "xs:unsignedShort": "0 to 65535", "xs:unsignedInt": "0 to 4294967295",
    "xs:unsignedLong": "0 to 18446744073709551615", "xs:integer": "any integer",
    "xs:positiveInteger": "1 or more", "xs:nonNegativeInteger": "0 or more",
    "xs:negativeInteger": "-1 or less", "xs:nonPositiveInteger": "0 or less",
}  # fmt: skip
_KIND = {name: "string" for name in _XSD} | {name: "integer" for name in _INTEGER_RANGES}
_KIND |= {"xs:boolean": "boolean", "xs:decimal": "decimal", "xs:double": "float", "xs:float": "float"}
_ACCEPTED = {
    "boolean": "true or false", "integer": "a JSON integer or an integer string",
    "decimal": "a JSON number or a decimal string", "float": "a JSON number or a numeric string",
    "string": "a JSON string",
}  # fmt: skip
_EXAMPLES = {
    "xs:boolean": "true", "xs:decimal": "23.5", "xs:double": "23.5", "xs:float": "23.5",
    "xs:date": "2024-01-31", "xs:dateTime": "2024-01-31T12:00:00Z", "xs:time": "12:00:00",
    "xs:duration": "P1DT2H", "xs:gYear": "2024", "xs:gYearMonth": "2024-01", "xs:gMonth": "--01",
    "xs:gMonthDay": "--01-31", "xs:gDay": "---31", "xs:hexBinary": "0fa3", "xs:base64Binary": "SGk=",
    "xs:anyURI": "https://example.com/x",
}  # fmt: skip
_BOOLEANS = {"true": True, "1": True, "false": False, "0": False}
_INTEGER_TEXT = re.compile(r"[+-]?[0-9]+\Z")
_DECIMAL_TEXT = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)\Z")
_NON_FINITE = {"nan": "NaN", "inf": "INF", "-inf": "-INF"}
_MAX_DIGITS = 4000  # Python refuses int <-> str beyond 4300 digits; longer text stays a string


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
        return _json_of(element["value"], element.get("valueType")) if "value" in element else None
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
            result[name] = _json_of(element[name], element.get("valueType"))
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


def _json_of(text: str, value_type: str | None) -> Any:
    """A lexical value (Property value, Range min/max) as the JSON value its valueType maps to."""
    kind = _KIND.get(value_type or "", "string")
    if kind == "string" or not isinstance(text, str) or len(text) > _MAX_DIGITS:
        return text
    if kind == "boolean":
        return _BOOLEANS.get(text, text)
    if kind == "integer":
        return int(text) if _INTEGER_TEXT.match(text) else text
    if kind == "decimal":
        if not _DECIMAL_TEXT.match(text):
            return text
        number = Decimal(text)
        if number == number.to_integral_value():
            return int(number)
        as_float = float(number)
        return as_float if Decimal(repr(as_float)) == number else text
    if not verification.matches_xs_double(text):
        return text
    as_float = float(text)
    return as_float if math.isfinite(as_float) else text


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
        return {**element, "value": _stored_text(value, stored, element.get("valueType"))}
    except _Refused as refusal:
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


class _Refused(Exception):
    """A member's value does not fit; the message says what came and what is accepted."""


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
    elif model_type in ("Operation", "Capability"):
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
        write.refuse(path, f"expected an object with {' and/or '.join(members)}, got {_show(value)}")
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
            except _Refused as refusal:
                if not _reads_as(stored, incoming, element):
                    write.refuse(path, str(refusal), label)
    if element["modelType"] == "Entity" and len(write.violations) == first_violation:
        _check_entity(element, result, path, write)
    return result


def _reads_as(stored: Any, incoming: Any, element: JsonDict) -> bool:
    """Whether `incoming` is exactly (JSON types included) how the stored member reads."""
    if isinstance(stored, str) and "valueType" in element:
        stored = _json_of(stored, element["valueType"])
    return json.dumps(incoming, sort_keys=True, default=repr) == json.dumps(
        stored, sort_keys=True, default=repr
    )


def _check_entity(element: JsonDict, result: JsonDict, path: str, write: _Write) -> None:
    """Constraint AASd-014, checked when a write touches it: asset ids exactly for self-managed entities."""
    if all(result.get(name) == element.get(name) for name in _OWN_VALUE["Entity"]):
        return
    has_asset_ids = "globalAssetId" in result or bool(result.get("specificAssetIds"))
    if has_asset_ids != (result.get("entityType") == "SelfManagedEntity"):
        write.refuse(
            path,
            "a SelfManagedEntity needs a globalAssetId or specificAssetIds, and a CoManagedEntity has"
            " neither (Constraint AASd-014)",
        )


def _apply_list(element: JsonDict, value: Any, path: str, write: _Write) -> JsonDict:
    children = element.get("value") or []
    if not isinstance(value, list):
        write.refuse(path, f"expected an array with the values of the list's elements, got {_show(value)}")
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
    items = _named_items(value)
    if items is None:
        write.refuse(path, f"expected an object with the values of elements by idShort, got {_show(value)}")
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


def _named_items(value: Any) -> list[tuple[str, Any]] | None:
    if isinstance(value, dict):
        return list(value.items())
    if isinstance(value, list) and all(isinstance(item, dict) and len(item) == 1 for item in value):
        return [next(iter(item.items())) for item in value]
    return None


# Member converters: (incoming, stored, element, path, write) -> what to store (None: remove the member),
# or raise _Refused. Only _to_children records violations itself, under the children's paths.
Converter = Callable[[Any, Any, JsonDict, str, "_Write"], Any]


def _to_lexical(incoming: Any, stored: Any, element: JsonDict, path: str, write: _Write) -> str:
    return _stored_text(incoming, stored, element.get("valueType"))


def _stored_text(incoming: Any, stored: Any, value_type: str | None) -> str:
    """The lexical text to store for `incoming`; the `stored` text when both mean the same value."""
    text = _lexical_of(incoming, value_type)
    return stored if isinstance(stored, str) and _same_value(text, stored, value_type) else text


def _lexical_of(value: Any, value_type: str | None) -> str:
    xsd = _XSD.get(value_type or "")
    if xsd is None:
        raise _Refused(f"the element's valueType {_show(value_type)} is no XSD type of the meta-model")
    kind = _KIND[xsd.value]
    if isinstance(value, bool):
        if kind != "boolean":
            raise _Refused(_expected(kind, xsd.value, value))
        return "true" if value else "false"
    if isinstance(value, int) and kind in ("integer", "decimal", "float"):
        text = str(value)
    elif isinstance(value, float) and kind == "float":
        text = repr(value) if math.isfinite(value) else _NON_FINITE[str(value)]
    elif isinstance(value, float) and kind == "decimal" and math.isfinite(value):
        text = format(Decimal(repr(value)), "f")  # xs:decimal has no exponent notation
    elif isinstance(value, str):
        text = value
    else:
        raise _Refused(_expected(kind, xsd.value, value))
    if not verification.value_consistent_with_xsd_type(text, xsd):
        raise _Refused(_invalid(kind, xsd.value, value, text))
    return text


def _expected(kind: str, value_type: str, value: Any) -> str:
    return f"expected {_ACCEPTED[kind]} for valueType {value_type}, got {_show(value)}"


def _invalid(kind: str, value_type: str, value: Any, text: str) -> str:
    if kind == "integer" and _INTEGER_TEXT.match(text):
        return f"{_show(value)} is out of range for valueType {value_type} ({_INTEGER_RANGES[value_type]})"
    if kind == "float" and verification.matches_xs_double(text):
        return f"{_show(value)} is out of range for valueType {value_type}"
    if value_type == "xs:string":
        return f"{_show(value)} holds characters that XML, and so xs:string, cannot carry"
    example = json.dumps(_EXAMPLES.get(value_type, "42"))
    return f"{_show(value)} is not a valid {value_type} value (for example {example})"


def _same_value(text: str, stored: str, value_type: str | None) -> bool:
    if text == stored:
        return True
    kind = _KIND.get(value_type or "", "string")
    comparable = _comparable(text, kind)
    return comparable is not None and comparable == _comparable(stored, kind)


def _comparable(text: str, kind: str) -> Any:
    if kind == "boolean":
        return _BOOLEANS.get(text)
    if kind in ("integer", "decimal"):
        return Decimal(text) if _DECIMAL_TEXT.match(text) else None
    if kind == "float" and verification.matches_xs_double(text):
        number = float(text)
        return "NaN" if math.isnan(number) else (number, math.copysign(1.0, number))  # keeps -0.0 apart
    return None


def _to_lang_strings(incoming: Any, stored: Any, element: JsonDict, path: str, write: _Write) -> Any:
    pairs = _named_items(incoming)
    if pairs is None:
        raise _Refused(f'expected an array of {{"language": "text"}} objects, got {_show(incoming)}')
    strings: list[JsonDict] = []
    for language, text in pairs:
        if not isinstance(text, str):
            raise _Refused(f"{json.dumps(language)}: expected a JSON string, got {_show(text)}")
        if any(language == earlier["language"] for earlier in strings):
            raise _Refused(f"{json.dumps(language)}: the language comes more than once")
        _raise_errors(verification.verify(aas_types.LangStringTextType(language, text)), json.dumps(language))
        strings.append({"language": language, "text": text})
    return strings or None


def _to_reference(incoming: Any, stored: Any, element: JsonDict, path: str, write: _Write) -> Any:
    return _via_aas_core(jsonization.reference_from_jsonable, incoming)


def _to_asset_ids(incoming: Any, stored: Any, element: JsonDict, path: str, write: _Write) -> Any:
    if not isinstance(incoming, list):
        raise _Refused(f"expected an array of SpecificAssetIds, got {_show(incoming)}")
    result = []
    for index, item in enumerate(incoming):
        if isinstance(item, dict) and len(item) == 1 and "name" not in item:
            item = {"name": next(iter(item)), "value": next(iter(item.values()))}
        result.append(_via_aas_core(jsonization.specific_asset_id_from_jsonable, item, f"[{index}]"))
    return result or None


def _via_aas_core(parse: Callable[[Any], aas_types.Class], value: Any, prefix: str = "") -> Any:
    """`value` parsed and verified by aas-core, then serialised back: the canonical Part 2 JSON."""
    try:
        instance = parse(value)
    except jsonization.DeserializationException as refusal:
        raise _Refused(f"{_join(prefix, str(refusal.path))}: {refusal.cause}".lstrip(": ")) from None
    _raise_errors(verification.verify(instance), prefix)
    return jsonization.to_jsonable(instance)


def _string_converter(check: Callable[[str], Iterator[verification.Error]]) -> Converter:
    def convert(incoming: Any, stored: Any, element: JsonDict, path: str, write: _Write) -> str:
        if not isinstance(incoming, str):
            raise _Refused(f"expected a JSON string, got {_show(incoming)}")
        _raise_errors(check(incoming))
        return incoming

    return convert


def _to_base64(incoming: Any, stored: Any, element: JsonDict, path: str, write: _Write) -> str:
    try:
        base64.b64decode(incoming, validate=True)
    except (binascii.Error, TypeError, ValueError):
        raise _Refused(f"expected base64 text (RFC 4648, padded), got {_show(incoming)}") from None
    return str(incoming)


def _to_entity_type(incoming: Any, stored: Any, element: JsonDict, path: str, write: _Write) -> str:
    if incoming not in ("SelfManagedEntity", "CoManagedEntity"):
        raise _Refused(f'expected "SelfManagedEntity" or "CoManagedEntity", got {_show(incoming)}')
    return str(incoming)


def _to_children(incoming: Any, stored: Any, element: JsonDict, path: str, write: _Write) -> Any:
    return _apply_named(stored, incoming, path, write)


def _raise_errors(errors: Iterator[verification.Error], prefix: str = "") -> None:
    causes = [f"{_join(prefix, str(error.path))}: {error.cause}".lstrip(": ") for error in errors]
    if causes:
        raise _Refused("; ".join(causes))


def _join(prefix: str, sub_path: str) -> str:
    """`prefix` + an aas-core path (`.external_subject_id.keys[0]`) in the JSON names (`externalSubjectId`)."""
    sub_path = re.sub(r"_([a-z])", lambda match: match.group(1).upper(), sub_path.lstrip("."))
    if not prefix or not sub_path:
        return prefix or sub_path
    return prefix + ("" if sub_path.startswith("[") else ".") + sub_path


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


def _show(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=repr)
    return text if len(text) <= 80 else text[:77] + "..."


_to_content_type = _string_converter(verification.verify_content_type)
_to_path = _string_converter(verification.verify_path_type)
_to_identifier = _string_converter(verification.verify_identifier)
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
    "BasicEventElement": {"observed": _to_reference},
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

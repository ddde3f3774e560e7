"""Value members of elements (XSD lexical text, language strings, references...): checked, JSON <-> stored."""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

from aas_core3 import jsonization, verification
from aas_core3 import types as aas_types

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


class ValueRefused(Exception):
    """Raised by the `stored_*` functions: the message says what came and what is accepted."""


def json_value(text: str, value_type: str | None) -> Any:
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


def stored_lexical(incoming: Any, stored: Any, value_type: str | None) -> str:
    """The lexical text to store for `incoming`; the `stored` text when both mean the same value."""
    text = _lexical_of(incoming, value_type)
    return stored if isinstance(stored, str) and _same_value(text, stored, value_type) else text


def stored_lang_strings(incoming: Any) -> list[dict[str, Any]] | None:
    """A MultiLanguageProperty value (`[{language: text}]` or `{language: text, ...}`) as stored."""
    pairs = named_pairs(incoming)
    if pairs is None:
        raise ValueRefused(
            f'expected an array of {{"language": "text"}} objects, got {json_excerpt(incoming)}'
        )
    strings: list[dict[str, Any]] = []
    for language, text in pairs:
        if not isinstance(text, str):
            raise ValueRefused(f"{json.dumps(language)}: expected a JSON string, got {json_excerpt(text)}")
        if any(language == earlier["language"] for earlier in strings):
            raise ValueRefused(f"{json.dumps(language)}: the language comes more than once")
        _raise_errors(verification.verify(aas_types.LangStringTextType(language, text)), json.dumps(language))
        strings.append({"language": language, "text": text})
    return strings or None


def stored_reference(incoming: Any) -> Any:
    """A Reference, checked and in aas-core's canonical Part 2 JSON."""
    return _via_aas_core(jsonization.reference_from_jsonable, incoming)


def stored_referable_reference(incoming: Any) -> Any:
    """A ModelReference to a Referable (BasicEventElement.observed), checked exactly as aas-core does."""
    stored = stored_reference(incoming)
    if not verification.is_model_reference_to_referable(jsonization.reference_from_jsonable(stored)):
        raise ValueRefused(
            "expected a ModelReference whose last key is a referable (Submodel, a submodel element type, "
            f"AssetAdministrationShell, ConceptDescription...), got {json_excerpt(incoming)}"
        )
    return stored


def stored_asset_ids(incoming: Any) -> list[Any] | None:
    """SpecificAssetIds, each as an object or as `{name: value}`, in canonical Part 2 JSON."""
    if not isinstance(incoming, list):
        raise ValueRefused(f"expected an array of SpecificAssetIds, got {json_excerpt(incoming)}")
    result = []
    for index, item in enumerate(incoming):
        if isinstance(item, dict) and len(item) == 1 and "name" not in item:
            item = {"name": next(iter(item)), "value": next(iter(item.values()))}
        result.append(_via_aas_core(jsonization.specific_asset_id_from_jsonable, item, f"[{index}]"))
    return result or None


def stored_base64(incoming: Any) -> str:
    """Blob contents: padded base64 text (RFC 4648)."""
    try:
        base64.b64decode(incoming, validate=True)
    except (binascii.Error, TypeError, ValueError):
        raise ValueRefused(f"expected base64 text (RFC 4648, padded), got {json_excerpt(incoming)}") from None
    return str(incoming)


def stored_entity_type(incoming: Any) -> str:
    """An Entity's entityType."""
    if incoming not in ("SelfManagedEntity", "CoManagedEntity"):
        raise ValueRefused(f'expected "SelfManagedEntity" or "CoManagedEntity", got {json_excerpt(incoming)}')
    return str(incoming)


def _string_check(check: Callable[[str], Iterator[verification.Error]]) -> Callable[[Any], str]:
    def stored_string(incoming: Any) -> str:
        if not isinstance(incoming, str):
            raise ValueRefused(f"expected a JSON string, got {json_excerpt(incoming)}")
        _raise_errors(check(incoming))
        return incoming

    return stored_string


stored_content_type = _string_check(verification.verify_content_type)
stored_path = _string_check(verification.verify_path_type)
stored_identifier = _string_check(verification.verify_identifier)


def named_pairs(value: Any) -> list[tuple[str, Any]] | None:
    """The `(name, value)` pairs of an object, or of an array of single-member objects; else None."""
    if isinstance(value, dict):
        return list(value.items())
    if isinstance(value, list) and all(isinstance(item, dict) and len(item) == 1 for item in value):
        return [next(iter(item.items())) for item in value]
    return None


def json_excerpt(value: Any) -> str:
    """`value` as JSON text for a message, cut to 80 characters."""
    text = json.dumps(value, ensure_ascii=False, default=repr)
    return text if len(text) <= 80 else text[:77] + "..."


def _lexical_of(value: Any, value_type: str | None) -> str:
    xsd = _XSD.get(value_type or "")
    if xsd is None:
        raise ValueRefused(
            f"the element's valueType {json_excerpt(value_type)} is no XSD type of the meta-model"
        )
    kind = _KIND[xsd.value]
    if isinstance(value, bool):
        if kind != "boolean":
            raise ValueRefused(_expected(kind, xsd.value, value))
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
        raise ValueRefused(_expected(kind, xsd.value, value))
    if not verification.value_consistent_with_xsd_type(text, xsd):
        raise ValueRefused(_invalid(kind, xsd.value, value, text))
    return text


def _expected(kind: str, value_type: str, value: Any) -> str:
    return f"expected {_ACCEPTED[kind]} for valueType {value_type}, got {json_excerpt(value)}"


def _invalid(kind: str, value_type: str, value: Any, text: str) -> str:
    shown = json_excerpt(value)
    if kind == "integer" and _INTEGER_TEXT.match(text):
        return f"{shown} is out of range for valueType {value_type} ({_INTEGER_RANGES[value_type]})"
    if kind == "float" and verification.matches_xs_double(text):
        return f"{shown} is out of range for valueType {value_type}"
    if value_type == "xs:string":
        return f"{shown} holds characters that XML, and so xs:string, cannot carry"
    example = json.dumps(_EXAMPLES.get(value_type, "42"))
    return f"{shown} is not a valid {value_type} value (for example {example})"


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


def _via_aas_core(parse: Callable[[Any], aas_types.Class], value: Any, prefix: str = "") -> Any:
    """`value` parsed and verified by aas-core, then serialised back: the canonical Part 2 JSON."""
    try:
        instance = parse(value)
    except jsonization.DeserializationException as refusal:
        raise ValueRefused(f"{_join(prefix, str(refusal.path))}: {refusal.cause}".lstrip(": ")) from None
    _raise_errors(verification.verify(instance), prefix)
    return jsonization.to_jsonable(instance)


def _raise_errors(errors: Iterator[verification.Error], prefix: str = "") -> None:
    causes = [f"{_join(prefix, str(error.path))}: {error.cause}".lstrip(": ") for error in errors]
    if causes:
        raise ValueRefused("; ".join(causes))


def _join(prefix: str, sub_path: str) -> str:
    """`prefix` + an aas-core path (`.external_subject_id.keys[0]`) in the JSON names (`externalSubjectId`)."""
    sub_path = re.sub(r"_([a-z])", lambda match: match.group(1).upper(), sub_path.lstrip("."))
    if not prefix or not sub_path:
        return prefix or sub_path
    return prefix + ("" if sub_path.startswith("[") else ".") + sub_path

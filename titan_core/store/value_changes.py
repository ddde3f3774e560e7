"""Which element values a whole-submodel write changed: the `valueChanged` events of a PUT or PATCH.

An element counts when it is at the same idShortPath before and after, and its own value differs
(compared as ValueOnly, so `"1.0"` and `"1"` of an xs:decimal are the same value, and Blob contents
count). Collections and lists report their changed descendants, not themselves; an Entity or an
annotated relationship reports itself only for its own members — as value writes report them.
Elements added or removed are not value changes (the submodel's `updated` event carries them).
"""

from __future__ import annotations

from typing import Any

from titan_core.eventtypes.change import Change
from titan_core.model.elements import iter_elements
from titan_core.model.paths import IdShortPath, format_id_short_path
from titan_core.model.value_only import NO_VALUE_TYPES, VALUE_CONTAINERS, element_value, own_value_members
from titan_core.store.documents import last_key_value

_NOT_REPORTED = VALUE_CONTAINERS | NO_VALUE_TYPES  # containers report through their children


def value_changes(submodel_id: str, before: dict[str, Any], after: dict[str, Any]) -> list[Change]:
    """One `valueChanged` per element of `after` whose value differs from `before`, in document order."""
    old_elements = {path: element for path, element in iter_elements(before)}
    changes: list[Change] = []
    for path, element in iter_elements(after):
        old = old_elements.get(path)
        model_type = element.get("modelType")
        if old is None or old.get("modelType") != model_type or model_type in _NOT_REPORTED:
            continue
        if not _value_differs(model_type, old, element):
            continue
        changes.append(value_change(submodel_id, path, element))
    return changes


def value_change(submodel_id: str, path: IdShortPath, element: dict[str, Any]) -> Change:
    """The `valueChanged` event of one element whose value a write set."""
    return Change(
        type="valueChanged",
        entity="element",
        identifier=submodel_id,
        path=format_id_short_path(path),
        semantic_id=last_key_value(element.get("semanticId")),
        data=element_value(element),
        element=element,
    )


def _value_differs(model_type: Any, old: dict[str, Any], new: dict[str, Any]) -> bool:
    members = own_value_members(str(model_type))
    if members is not None:
        return any(old.get(name) != new.get(name) for name in members)
    if old == new:
        return False
    return bool(element_value(old, include_blob_values=True) != element_value(new, include_blob_values=True))

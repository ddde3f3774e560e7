"""The Event Feed's versioned event types and the facts of an event its filter reads.

The Event Feed proposal (admin-shell-io/aas-specs-api #557) names types such as
`io.admin-shell.submodel.updated.v1` and `io.admin-shell.aas.created.v1`. It has none for elements
or concept descriptions; Titan names them in the same style (docs/events.md, "Event Feed").
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from titan_core.eventtypes.change import Change
from titan_core.eventtypes.kinds import plugin_entity_kinds, plugin_kind

_RESOURCE = {
    "shell": "aas",
    "submodel": "submodel",
    "element": "submodelelement",
    "concept_description": "conceptdescription",
}
# The core's types; `feed_types()` adds those of the kinds plugins registered.
FEED_TYPES: tuple[str, ...] = tuple(
    f"io.admin-shell.{resource}.{action}.v1"
    for resource in _RESOURCE.values()
    for action in ("created", "updated", "deleted", "valuechanged")
    if action != "valuechanged" or resource == "submodelelement"
)


def feed_types() -> tuple[str, ...]:
    """Every Event Feed type: the core's, then `io.admin-shell.<kind in camelCase>.<action>.v1` for
    each registered plugin kind (created, updated, deleted)."""
    return FEED_TYPES + tuple(
        f"io.admin-shell.{kind.feed_resource}.{action}.v1"
        for kind in plugin_entity_kinds()
        for action in ("created", "updated", "deleted")
    )


def feed_type(entity: str, change_type: str) -> str:
    """`io.admin-shell.submodelelement.valuechanged.v1` for an element's valueChanged, and so on;
    `io.admin-shell.shellDescriptor.created.v1` for a plugin's kind `shell_descriptor`."""
    resource = _RESOURCE.get(entity)
    if resource is None:
        kind = plugin_kind(entity)
        if kind is None:
            raise KeyError(entity)
        resource = kind.feed_resource
    return f"io.admin-shell.{resource}.{change_type.lower()}.v1"


def subject_of(change: Change) -> Any:
    """The whole entity or element a change is about (for a valueChanged: the element)."""
    return change.element if change.type == "valueChanged" else change.data


def semantic_key_values(subject: Any) -> list[str]:
    """Every key value of the subject's semanticId, in order, without repeats."""
    if not isinstance(subject, Mapping):
        return []
    reference = subject.get("semanticId")
    keys = reference.get("keys") if isinstance(reference, Mapping) else None
    values: list[str] = []
    for key in keys if isinstance(keys, list) else ():
        value = key.get("value") if isinstance(key, Mapping) else None
        if isinstance(value, str) and value not in values:
            values.append(value)
    return values

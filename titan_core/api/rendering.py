"""Applies the Part 2 modifiers (`$metadata`, `$value`, `$reference`, `$path`, level, extent)."""

from __future__ import annotations

from typing import Any, Literal

from titan_core.api.params import Extent, Level
from titan_core.errors import BadRequest
from titan_core.model.paths import PathSegment, format_id_short_path
from titan_core.model.projections import (
    apply_level_core,
    metadata_of,
    paths_of,
    reference_of_element,
    without_blob_values,
)
from titan_core.model.value_only import NO_VALUE_TYPES, element_value, submodel_value

# Part 2 defines no `$metadata` form for these (SubmodelElementMetadata lists the other types).
_NO_METADATA = NO_VALUE_TYPES

# Part 2 serialises `$path` for elements that have children addressable by idShortPath.
_HAS_PATH = frozenset({"SubmodelElementCollection", "SubmodelElementList", "Entity"})

Modifier = Literal["normal", "metadata", "value", "reference", "path"]


def shape(node: dict[str, Any], *, level: Level, extent: Extent) -> dict[str, Any]:
    """The node (submodel or element) cut to `level` and with Blob contents per `extent`."""
    if level == "core":
        node = apply_level_core(node)
    if extent == "withoutBlobValue":
        node = without_blob_values(node)
    return node


def render_submodel(submodel: dict[str, Any], modifier: Modifier, *, level: Level, extent: Extent) -> Any:
    if modifier == "metadata":
        return metadata_of(submodel)
    if modifier == "reference":
        return {"type": "ModelReference", "keys": [{"type": "Submodel", "value": submodel["id"]}]}
    if modifier == "path":
        return paths_of(submodel, (), level=level)
    shaped = shape(submodel, level=level, extent=extent)
    if modifier == "value":
        return submodel_value(shaped, include_blob_values=extent == "withBlobValue")
    return shaped


def render_element(
    submodel: dict[str, Any],
    path: tuple[PathSegment, ...],
    element: dict[str, Any],
    modifier: Modifier,
    *,
    level: Level,
    extent: Extent,
) -> Any:
    if modifier == "metadata":
        if element.get("modelType") in _NO_METADATA:
            raise BadRequest(
                f"{element.get('modelType')} elements have no $metadata serialisation in Part 2; "
                "read the element itself"
            )
        return metadata_of(element)
    if modifier == "reference":
        return reference_of_element(submodel["id"], submodel, path)
    if modifier == "path":
        if element.get("modelType") not in _HAS_PATH:
            raise BadRequest(
                f"$path is defined for elements with children ({', '.join(sorted(_HAS_PATH))}); "
                f"{element.get('modelType')} has none: use $reference or the element itself"
            )
        return paths_of(element, path, level=level)
    shaped = shape(element, level=level, extent=extent)
    if modifier == "value":
        return element_value(shaped, include_blob_values=extent == "withBlobValue")
    return shaped


def path_text(path: tuple[PathSegment, ...]) -> str:
    return format_id_short_path(path)

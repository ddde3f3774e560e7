"""Navigation and edits of submodel elements on Part 2 JSON dicts (no aas-core parsing on these paths).

Which elements are addressable: the children named in Part 2, "Addressing Resources" and the `level`
modifier: `submodelElements` of a Submodel, `value` of a SubmodelElementCollection or
SubmodelElementList, `statements` of an Entity and `annotations` of an AnnotatedRelationshipElement.
The elements wrapped in an Operation's `inputVariables` / `outputVariables` / `inoutputVariables`
(`{"value": element}`) are NOT addressable by idShortPath: the spec lists no child field for Operation,
and the `$path` content names only the five container types above. Traversals that must reach every
element (stripping Blob values, for instance) use `child_containers`, which does include them.

List items are addressed by index only (`list[0]`); AASd-120 forbids idShorts on them anyway.

The edit functions mutate the submodel dict they are given: callers pass their own copy.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Literal

from titan_core.errors import BadRequest, Conflict, NotFound
from titan_core.model.paths import IdShortPath, PathSegment, format_id_short_path

JsonDict = dict[str, Any]

CHILDREN_KEY: dict[str, str] = {
    "Submodel": "submodelElements",
    "SubmodelElementCollection": "value",
    "SubmodelElementList": "value",
    "Entity": "statements",
    "AnnotatedRelationshipElement": "annotations",
}
"""modelType -> the member that holds its addressable child elements."""

OPERATION_VARIABLE_KEYS = ("inputVariables", "outputVariables", "inoutputVariables")

_LIST = "SubmodelElementList"
_CONTAINERS_TEXT = (
    "child elements live in a Submodel, SubmodelElementCollection, SubmodelElementList, "
    "Entity (statements) or AnnotatedRelationshipElement (annotations)"
)


def children_of(node: JsonDict) -> list[JsonDict]:
    """The addressable children of a submodel or element, in document order (empty when it has none).

    The stored list itself when present, so a caller may edit it in place.
    """
    key = CHILDREN_KEY.get(node.get("modelType", ""))
    if key is None:
        return []
    children = node.get(key)
    return children if isinstance(children, list) else []


def child_containers(element: JsonDict) -> list[list[JsonDict]]:
    """Every list of elements nested directly in `element`, including the values of Operation variables.

    The addressable children come as the stored list; Operation variables come as a new list of their
    (stored) element dicts, so editing those elements in place works, adding to that list does not.
    """
    containers: list[list[JsonDict]] = []
    key = CHILDREN_KEY.get(element.get("modelType", ""))
    if key is not None:
        children = element.get(key)
        if isinstance(children, list) and children:
            containers.append(children)
    elif element.get("modelType") == "Operation":
        for variables_key in OPERATION_VARIABLE_KEYS:
            variables = element.get(variables_key)
            if isinstance(variables, list) and variables:
                values = [
                    variable["value"]
                    for variable in variables
                    if isinstance(variable, dict) and isinstance(variable.get("value"), dict)
                ]
                if values:
                    containers.append(values)
    return containers


def walk_path(submodel: JsonDict, path: IdShortPath) -> list[JsonDict]:
    """The elements along `path`, one per segment (the last one is the addressed element).

    Raises `NotFound` naming the first segment that does not exist, and `BadRequest` when an index
    is applied to something that is not a SubmodelElementList or an idShort to a list.
    """
    if not path:
        raise BadRequest("An empty idShortPath addresses no submodel element")
    chain: list[JsonDict] = []
    node = submodel
    for depth, segment in enumerate(path):
        node = _child(node, segment, path, depth)
        chain.append(node)
    return chain


def find_element(submodel: JsonDict, path: IdShortPath) -> JsonDict:
    """The element at `path` in `submodel` (the stored dict, not a copy). See `walk_path` for errors."""
    if not path:
        raise BadRequest("An empty idShortPath addresses no submodel element")
    node = submodel
    for depth, segment in enumerate(path):
        node = _child(node, segment, path, depth)
    return node


def find_parent_container(submodel: JsonDict, path: IdShortPath) -> tuple[list[JsonDict], int]:
    """The stored list that holds the element at `path`, and the element's index in it."""
    _, container, index = _locate(submodel, path)
    return container, index


def insert_element(submodel: JsonDict, parent_path: IdShortPath | None, element: JsonDict) -> int:
    """Add `element` under `parent_path` (None or empty: at the top of the submodel); mutates `submodel`.

    A SubmodelElementList parent gets the element appended. Elsewhere the element needs an idShort
    unique among its siblings (`Conflict` when taken). Returns the new element's index in its container,
    which for a list is its path segment.
    """
    parent = find_element(submodel, parent_path) if parent_path else submodel
    model_type = parent.get("modelType", "")
    key = CHILDREN_KEY.get(model_type)
    if key is None:
        where = format_id_short_path(parent_path) if parent_path else "the submodel"
        raise BadRequest(
            f"Cannot add an element below {where!r}: a {model_type} has no child elements; {_CONTAINERS_TEXT}"
        )
    siblings = parent.get(key)
    if not isinstance(siblings, list):
        siblings = []
    if model_type != _LIST:
        id_short = element.get("idShort")
        if not isinstance(id_short, str) or not id_short:
            raise BadRequest(
                "The new element has no idShort; elements outside a SubmodelElementList need one"
            )
        if any(sibling.get("idShort") == id_short for sibling in siblings):
            where = format_id_short_path((*parent_path, id_short)) if parent_path else id_short
            raise Conflict(f"A submodel element with idShortPath {where!r} already exists")
    if not siblings:
        parent[key] = siblings  # only now: a refused insert leaves the submodel untouched
    siblings.append(element)
    return len(siblings) - 1


def replace_element(submodel: JsonDict, path: IdShortPath, element: JsonDict) -> JsonDict:
    """Put `element` where the element at `path` is; mutates `submodel` and returns the element replaced.

    Outside lists the new element must keep the idShort the path names (renaming through PUT would
    make the URL lie about what it addresses).
    """
    container, index = find_parent_container(submodel, path)
    last = path[-1]
    if isinstance(last, str) and element.get("idShort") != last:
        raise BadRequest(
            f"The element's idShort {element.get('idShort')!r} does not match the last segment of the "
            f"idShortPath {format_id_short_path(path)!r}; it must be {last!r}"
        )
    previous = container[index]
    container[index] = element
    return previous


def delete_element(submodel: JsonDict, path: IdShortPath) -> JsonDict:
    """Remove the element at `path`; mutates `submodel` and returns the removed element.

    A container left empty loses its member entirely, because the meta-model wants child lists
    either absent or non-empty. Later list items move up one index.
    """
    parent, container, index = _locate(submodel, path)
    removed = container.pop(index)
    if not container:
        del parent[CHILDREN_KEY[parent["modelType"]]]
    return removed


def iter_elements(
    submodel_or_element: JsonDict, *, level: Literal["deep", "core"] = "deep"
) -> Iterator[tuple[IdShortPath, JsonDict]]:
    """`(path, element)` for the descendants of a submodel or element, depth-first in document order.

    Paths are relative to the node given (for a submodel they are full idShortPaths); the node itself
    is not yielded. `level="core"` yields the direct children only. Operation variables are not visited
    (they are not addressable). Elements without an idShort outside lists are skipped with their
    subtree, since no path can name them.
    """
    stack: list[tuple[IdShortPath, bool, Iterator[tuple[int, JsonDict]]]] = [
        ((), submodel_or_element.get("modelType") == _LIST, enumerate(children_of(submodel_or_element)))
    ]
    deep = level == "deep"
    while stack:
        prefix, in_list, children = stack[-1]
        step = next(children, None)
        if step is None:
            stack.pop()
            continue
        index, child = step
        segment: PathSegment
        if in_list:
            segment = index
        else:
            id_short = child.get("idShort")
            if not isinstance(id_short, str) or not id_short:
                continue
            segment = id_short
        path = (*prefix, segment)
        yield path, child
        if deep:
            grandchildren = children_of(child)
            if grandchildren:
                stack.append((path, child.get("modelType") == _LIST, enumerate(grandchildren)))


def _locate(submodel: JsonDict, path: IdShortPath) -> tuple[JsonDict, list[JsonDict], int]:
    """The parent of the element at `path`, the stored list holding the element, and its index there."""
    if not path:
        raise BadRequest("An empty idShortPath addresses no submodel element")
    parent = submodel
    for depth in range(len(path) - 1):
        parent = _child(parent, path[depth], path, depth)
    container, index = _child_position(parent, path[-1], path, len(path) - 1)
    return parent, container, index


def _child(node: JsonDict, segment: PathSegment, path: IdShortPath, depth: int) -> JsonDict:
    children, index = _child_position(node, segment, path, depth)
    return children[index]


def _child_position(
    node: JsonDict, segment: PathSegment, path: IdShortPath, depth: int
) -> tuple[list[JsonDict], int]:
    model_type = node.get("modelType", "")
    is_list = model_type == _LIST
    children = children_of(node)
    if isinstance(segment, int):
        if not is_list:
            raise BadRequest(
                f"idShortPath {format_id_short_path(path)!r}: index [{segment}] is applied to "
                f"{_describe(node, path, depth)}, but only a SubmodelElementList has indexed items"
            )
        if segment >= len(children):
            raise NotFound(
                f"Submodel element {format_id_short_path(path[: depth + 1])!r} not found: the list "
                f"{format_id_short_path(path[:depth])!r} has {len(children)} item(s)"
            )
        return children, segment
    if is_list:
        raise BadRequest(
            f"idShortPath {format_id_short_path(path)!r}: {format_id_short_path(path[:depth])!r} is a "
            f"SubmodelElementList, whose items are addressed by index ('[0]'), not by idShort {segment!r}"
        )
    for index, child in enumerate(children):
        if child.get("idShort") == segment:
            return children, index
    raise NotFound(
        f"Submodel element {format_id_short_path(path[: depth + 1])!r} not found: "
        f"{_describe(node, path, depth)} has no child with idShort {segment!r}"
    )


def _describe(node: JsonDict, path: IdShortPath, depth: int) -> str:
    model_type = node.get("modelType", "element")
    if depth == 0:
        return "the submodel" if model_type == "Submodel" else f"the {model_type}"
    return f"the {model_type} {format_id_short_path(path[:depth])!r}"

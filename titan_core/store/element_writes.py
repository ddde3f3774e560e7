"""Submodel element writes: structural changes, value writes, `$metadata`, File attachments.

Structural writes verify the element they add or replace (and its list parent, whose rules involve
the children); value writes check only the value against the element's type, so a device write
never re-verifies the whole submodel.
"""

from typing import Any, Unpack

from sqlalchemy.ext.asyncio import AsyncConnection

from titan_core.errors import BadRequest, NotFound
from titan_core.eventtypes.change import Change
from titan_core.model.elements import (
    CHILDREN_KEY,
    delete_element,
    find_element,
    insert_element,
    replace_element,
)
from titan_core.model.paths import PathSegment, format_id_short_path
from titan_core.model.value_only import (
    apply_element_value,
    apply_element_value_tracked,
    apply_submodel_value,
)
from titan_core.model.verify import parse_and_verify
from titan_core.store.documents import last_key_value
from titan_core.store.element_rules import (
    check_template_qualifiers,
    child_path,
    file_value_of,
    new_child_label,
    require_file,
    verify_element,
    verify_list_parent,
    verify_submodel_rules,
)
from titan_core.store.identifiable_store import IdentifiableStore
from titan_core.store.records import Attachment, StoredIdentifiable
from titan_core.store.value_changes import value_change, value_changes
from titan_core.store.write_types import WriteOptions

Path = tuple[PathSegment, ...]

# Fields of an element that `$metadata` PATCH may not touch: its value and its children.
_VALUE_FIELDS = frozenset(
    {
        "value",
        "statements",
        "annotations",
        "first",
        "second",
        "min",
        "max",
        "observed",
        "globalAssetId",
        "specificAssetIds",
        "entityType",
        "contentType",
    }
)


class ElementWrites:
    """Writes of submodel elements, each an `edit` of its submodel (one part of the `Repository`)."""

    def __init__(self, store: IdentifiableStore) -> None:
        self._store = store

    # ---------------------------------------------------------------- submodel elements

    async def create_element(
        self, submodel_id: str, parent_path: Path | None, element: Any, **write: Unpack[WriteOptions]
    ) -> tuple[dict[str, Any], Path]:
        """POST a new element at the top level (`parent_path` None) or into a container.

        Returns the stored element and its idShortPath (a list item's is its new index).
        """
        new_element = verify_element(element, new_child_label(parent_path, element))
        result: dict[str, Path] = {}

        def edit(document: dict[str, Any]) -> tuple[dict[str, Any], list[Change]]:
            insert_element(document, parent_path, new_element)
            path = child_path(document, parent_path, new_element)
            verify_list_parent(document, parent_path)
            verify_submodel_rules(document, path, new_element)
            result["path"] = path
            return document, [_element_change("created", submodel_id, path, new_element)]

        await self._store.edit("submodel", submodel_id, edit, **write)
        return new_element, result["path"]

    async def put_element(
        self, submodel_id: str, path: Path, element: Any, **write: Unpack[WriteOptions]
    ) -> bool:
        """PUT: replace the element at `path`, or create it there; returns whether it was created."""
        new_element = verify_element(element, format_id_short_path(path))
        outcome = {"created": False}
        last = path[-1]
        if isinstance(last, str) and new_element.get("idShort") != last:
            raise BadRequest(
                f"the idShort in the body ({new_element.get('idShort')!r}) differs from the last segment "
                f"of the path ({last!r})"
            )

        def edit(document: dict[str, Any]) -> tuple[dict[str, Any], list[Change]]:
            try:
                old = find_element(document, path)
            except NotFound:
                if isinstance(last, int):
                    raise
                insert_element(document, path[:-1] or None, new_element)
                verify_list_parent(document, path[:-1] or None)
                verify_submodel_rules(document, path, new_element)
                outcome["created"] = True
                return document, [_element_change("created", submodel_id, path, new_element)]
            replace_element(document, path, new_element)
            verify_list_parent(document, path[:-1] or None)
            verify_submodel_rules(document, path, new_element)
            change = "updated" if old != new_element else None
            return document, [_element_change(change, submodel_id, path, new_element)] if change else []

        async def drop_replaced_attachments(connection: AsyncConnection, owner: StoredIdentifiable) -> None:
            if not outcome["created"]:
                await self._store.drop_attachments(connection, owner, format_id_short_path(path), below=True)

        await self._store.edit(
            "submodel", submodel_id, edit, **write, attachment_change=drop_replaced_attachments
        )
        return outcome["created"]

    async def patch_element(
        self, submodel_id: str, path: Path, changes: Any, **write: Unpack[WriteOptions]
    ) -> None:
        """PATCH an element: the fields given replace the element's fields; the rest stays."""
        if not isinstance(changes, dict):
            raise BadRequest("the PATCH body must be a JSON object with the element's fields to change")

        def edit(document: dict[str, Any]) -> tuple[dict[str, Any], list[Change]]:
            old = find_element(document, path)
            if "modelType" in changes and changes["modelType"] != old.get("modelType"):
                raise BadRequest(
                    f"PATCH cannot change the modelType of {format_id_short_path(path)!r} "
                    f"from {old.get('modelType')!r} to {changes['modelType']!r}; use PUT"
                )
            merged = verify_element({**old, **changes}, format_id_short_path(path))
            if merged.get("idShort") != old.get("idShort"):
                raise BadRequest("PATCH cannot change an element's idShort; delete and create it instead")
            replace_element(document, path, merged)
            verify_list_parent(document, path[:-1] or None)
            verify_submodel_rules(document, path, merged)
            if merged == old:
                return document, []
            return document, [_element_change("updated", submodel_id, path, merged)]

        await self._store.edit("submodel", submodel_id, edit, **write)

    async def delete_element(self, submodel_id: str, path: Path, **write: Unpack[WriteOptions]) -> None:
        def edit(document: dict[str, Any]) -> tuple[dict[str, Any], list[Change]]:
            old = find_element(document, path)
            delete_element(document, path)
            return document, [_element_change("deleted", submodel_id, path, old)]

        async def drop(connection: AsyncConnection, owner: StoredIdentifiable) -> None:
            await self._store.drop_attachments(connection, owner, format_id_short_path(path), below=True)

        await self._store.edit("submodel", submodel_id, edit, **write, attachment_change=drop)

    async def set_element_value(
        self, submodel_id: str, path: Path, value: Any, **write: Unpack[WriteOptions]
    ) -> None:
        """PATCH `$value` (REST or MQTT): checks the value against the element's type only."""

        def edit(document: dict[str, Any]) -> tuple[dict[str, Any], list[Change]]:
            old = find_element(document, path)
            text_path = format_id_short_path(path)
            if old.get("modelType") not in CHILDREN_KEY:
                new = apply_element_value(old, value, path=text_path)
                if new == old:
                    return document, []
                replace_element(document, path, new)
                return document, [value_change(submodel_id, path, new)]
            # An element with children: one valueChanged per element whose own value changed.
            new, changed = apply_element_value_tracked(old, value, path=text_path)
            if new == old:
                return document, []
            replace_element(document, path, new)
            return document, [_tracked_change(submodel_id, document, changed_path, changed_value)
                              for changed_path, changed_value in changed]  # fmt: skip

        # Batchable: the edit raises before it replaces anything (see group_commit).
        await self._store.edit("submodel", submodel_id, edit, **write, batchable=True)

    async def set_submodel_value(self, submodel_id: str, value: Any, **write: Unpack[WriteOptions]) -> None:
        """PATCH a submodel's `$value`: one `valueChanged` per element whose value changed."""

        def edit(document: dict[str, Any]) -> tuple[dict[str, Any], list[Change]]:
            new_document, changed = apply_submodel_value(document, value)
            changes = [
                _tracked_change(submodel_id, new_document, path, new_value) for path, new_value in changed
            ]
            return new_document, changes

        await self._store.edit("submodel", submodel_id, edit, **write)

    async def set_element_metadata(
        self, submodel_id: str, path: Path, metadata: Any, **write: Unpack[WriteOptions]
    ) -> None:
        """PATCH `$metadata` of an element: its descriptive fields change, its value stays."""
        if not isinstance(metadata, dict):
            raise BadRequest("the $metadata body must be a JSON object (the element without its value)")
        touched = sorted(_VALUE_FIELDS & metadata.keys() - {"contentType", "entityType"})
        if touched:
            raise BadRequest(
                f"$metadata cannot change value fields ({', '.join(touched)}); use $value or PATCH"
            )
        await self.patch_element(submodel_id, path, metadata, **write)

    async def set_submodel_metadata(
        self, submodel_id: str, metadata: Any, **write: Unpack[WriteOptions]
    ) -> None:
        if not isinstance(metadata, dict):
            raise BadRequest("the $metadata body must be a JSON object (the submodel without its elements)")
        if "submodelElements" in metadata:
            raise BadRequest("$metadata cannot change submodelElements; use $value or the element routes")
        await self.patch_submodel(submodel_id, metadata, **write)

    async def patch_submodel(self, submodel_id: str, changes: Any, **write: Unpack[WriteOptions]) -> None:
        """PATCH a submodel: the top-level fields given replace the stored ones; the rest stays."""
        if not isinstance(changes, dict):
            raise BadRequest("the PATCH body must be a JSON object with the submodel's fields to change")
        if "id" in changes and changes["id"] != submodel_id:
            raise BadRequest(
                f"the id in the body ({changes['id']!r}) differs from the id in the path ({submodel_id!r})"
            )

        def edit(document: dict[str, Any]) -> tuple[dict[str, Any], list[Change]]:
            # The given fields are verified strictly, as a submodel of their own; fields left out keep
            # their stored value (which may be a leniently loaded one).
            patch = parse_and_verify("submodel", {**_skeleton(document), **changes}).jsonable
            new_document = {**document, **{key: patch[key] for key in changes if key in patch}}
            for key in changes:
                if key not in patch:
                    new_document.pop(key, None)
            if "kind" in changes:
                # The stored elements were verified under the old kind (given elements just now).
                for element in new_document.get("submodelElements") or ():
                    check_template_qualifiers(new_document, element, str(element.get("idShort")))
            if new_document == document:
                return document, []
            updated = Change(
                type="updated",
                entity="submodel",
                identifier=submodel_id,
                semantic_id=last_key_value(new_document.get("semanticId")),
                data=new_document,
            )
            return new_document, [updated, *value_changes(submodel_id, document, new_document)]

        await self._store.edit("submodel", submodel_id, edit, **write)

    # ---------------------------------------------------------------- File attachments

    async def put_attachment(
        self, submodel_id: str, path: Path, attachment: Attachment, **write: Unpack[WriteOptions]
    ) -> None:
        """Store a File element's content; its `value` becomes the file name (as a URI), `contentType` the type."""
        text_path = format_id_short_path(path)
        file_value = file_value_of(attachment, text_path)

        def edit(document: dict[str, Any]) -> tuple[dict[str, Any], list[Change]]:
            old = find_element(document, path)
            require_file(old, text_path)
            new = {**old, "value": file_value, "contentType": attachment.content_type}
            replace_element(document, path, new)
            return document, [] if new == old else [value_change(submodel_id, path, new)]

        async def store(connection: AsyncConnection, owner: StoredIdentifiable) -> None:
            await self._store.store_attachment(connection, owner, text_path, attachment)

        await self._store.edit("submodel", submodel_id, edit, **write, attachment_change=store)

    async def delete_attachment(self, submodel_id: str, path: Path, **write: Unpack[WriteOptions]) -> None:
        text_path = format_id_short_path(path)
        found = {"rows": 0}

        def edit(document: dict[str, Any]) -> tuple[dict[str, Any], list[Change]]:
            old = find_element(document, path)
            require_file(old, text_path)
            new = {key: item for key, item in old.items() if key != "value"}
            replace_element(document, path, new)
            return document, [] if new == old else [value_change(submodel_id, path, new)]

        async def drop(connection: AsyncConnection, owner: StoredIdentifiable) -> None:
            found["rows"] = await self._store.drop_attachments(connection, owner, text_path)
            if not found["rows"]:
                raise NotFound(f"File {text_path!r} of Submodel {submodel_id!r} has no attachment")

        await self._store.edit("submodel", submodel_id, edit, **write, attachment_change=drop)


def _semantic_id_at(document: dict[str, Any], path: str) -> str | None:
    from titan_core.model.paths import parse_id_short_path

    return last_key_value(find_element(document, parse_id_short_path(path)).get("semanticId"))


def _tracked_change(submodel_id: str, document: dict[str, Any], path: str, value: Any) -> Change:
    from titan_core.model.paths import parse_id_short_path

    element = find_element(document, parse_id_short_path(path))
    return Change(
        type="valueChanged",
        entity="element",
        identifier=submodel_id,
        path=path,
        semantic_id=last_key_value(element.get("semanticId")),
        data=value,
        element=element,
    )


def _element_change(change_type: Any, submodel_id: str, path: Path, element: dict[str, Any]) -> Change:
    return Change(
        type=change_type,
        entity="element",
        identifier=submodel_id,
        path=format_id_short_path(path),
        semantic_id=last_key_value(element.get("semanticId")),
        data=element,
    )


def _skeleton(document: dict[str, Any]) -> dict[str, Any]:
    # `kind` too: given submodelElements are verified against the kind they will live under (AASd-129).
    return {key: document[key] for key in ("id", "modelType", "kind") if key in document}

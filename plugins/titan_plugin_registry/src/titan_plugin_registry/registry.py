"""The registry's reads and writes: each write one transaction, with its event in the same one.

Every write goes through the core's `Repository.transaction`, so a descriptor change and its
`created`/`updated`/`deleted` event commit together and reach `/events`, the WebSocket and MQTT
like a twin's. Scopes apply to the descriptor's id, as to a twin's; a submodel descriptor inside an
AAS descriptor belongs to that AAS descriptor (its id is the one checked, its event is the AAS
descriptor's `updated`). A write that changes nothing emits nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from titan_core.plugin_api import (
    BadRequest,
    Change,
    ChangeType,
    Conflict,
    NotFound,
    Principal,
    Repository,
    authorize_read,
    authorize_write,
    check_precondition,
    decode_cursor,
    encode_cursor,
)
from titan_plugin_registry import store
from titan_plugin_registry.descriptors import LABEL, DescriptorKind, check_descriptor, semantic_id_of
from titan_plugin_registry.store import BodyPage, Listing, StoredDescriptor

ORIGIN = "plugin:registry"


@dataclass(frozen=True)
class NestedPage:
    items: list[dict[str, Any]]
    next_cursor: str | None
    etag: str


class Registry:
    """AAS descriptors and submodel descriptors, read and written as `principal`."""

    def __init__(self, repository: Repository, *, origin: str = ORIGIN) -> None:
        self.repository = repository
        self.origin = origin

    # --- Descriptors: the AAS Registry's and the Submodel Registry's collections ---

    async def get(self, kind: DescriptorKind, identifier: str, *, principal: Principal) -> StoredDescriptor:
        authorize_read(principal, identifier)
        return _found(kind, identifier, await store.get(self.repository, kind, identifier))

    async def page(self, kind: DescriptorKind, listing: Listing, *, principal: Principal) -> BodyPage:
        authorize_read(principal)
        return await store.page(self.repository, kind, listing, principal)

    async def create(self, kind: DescriptorKind, document: Any, *, principal: Principal) -> StoredDescriptor:
        document = check_descriptor(kind, document)
        authorize_write(principal, document["id"])
        async with self.repository.transaction(principal, origin=self.origin) as tx:
            stored = await store.add(tx.connection, kind, document)
            tx.record(_change("created", kind, document))
        return stored

    async def put(
        self,
        kind: DescriptorKind,
        identifier: str,
        document: Any,
        *,
        principal: Principal,
        if_match: str | None,
    ) -> tuple[StoredDescriptor, bool]:
        """Register or replace the descriptor `identifier`: (stored, whether it was created)."""
        document = check_descriptor(kind, document)
        _check_same_id(kind, identifier, document)
        authorize_write(principal, identifier)
        async with self.repository.transaction(principal, origin=self.origin) as tx:
            current = await store.read(tx.connection, kind, identifier, for_update=True)
            check_precondition(_what(kind, identifier), current.etag if current else None, if_match)
            if current is None:
                stored = await store.add(tx.connection, kind, document)
                tx.record(_change("created", kind, document))
                return stored, True
            if current.body == store.dumps(document):
                return current, False
            stored = await store.replace(tx.connection, current, document)
            tx.record(_change("updated", kind, document))
            return stored, False

    async def delete(
        self, kind: DescriptorKind, identifier: str, *, principal: Principal, if_match: str | None
    ) -> None:
        authorize_write(principal, identifier)
        async with self.repository.transaction(principal, origin=self.origin) as tx:
            current = _found(
                kind, identifier, await store.read(tx.connection, kind, identifier, for_update=True)
            )
            check_precondition(_what(kind, identifier), current.etag, if_match)
            await store.remove(tx.connection, current)
            tx.record(_change("deleted", kind, current.document()))

    # --- Submodel descriptors inside an AAS descriptor (the AAS Registry's superpath) ---

    async def nested_page(
        self, shell_id: str, *, principal: Principal, limit: int, cursor: str | None
    ) -> NestedPage:
        shell = await self.get("shell_descriptor", shell_id, principal=principal)
        nested = shell.document().get("submodelDescriptors") or []
        start = decode_cursor(cursor) if cursor else 0
        if start > len(nested):
            raise BadRequest(f"cursor {cursor!r} is past the end of the list: start again without a cursor")
        end = start + limit
        return NestedPage(nested[start:end], encode_cursor(end) if end < len(nested) else None, shell.etag)

    async def nested_get(self, shell_id: str, submodel_id: str, *, principal: Principal) -> tuple[Any, str]:
        """The submodel descriptor `submodel_id` of the AAS descriptor `shell_id`, and the latter's ETag."""
        shell = await self.get("shell_descriptor", shell_id, principal=principal)
        nested = shell.document().get("submodelDescriptors") or []
        return nested[_position(nested, shell_id, submodel_id)], shell.etag

    async def nested_add(self, shell_id: str, document: Any, *, principal: Principal) -> StoredDescriptor:
        document = check_descriptor("submodel_descriptor", document)

        def add(nested: list[Any]) -> None:
            if any(item.get("id") == document["id"] for item in nested):
                raise Conflict(
                    f"the AAS descriptor {shell_id!r} already has the submodel descriptor {document['id']!r}: "
                    "PUT it to replace it, or DELETE it first"
                )
            nested.append(document)

        stored, _ = await self._edit_nested(shell_id, add, principal=principal, if_match=None)
        return stored

    async def nested_put(
        self, shell_id: str, submodel_id: str, document: Any, *, principal: Principal, if_match: str | None
    ) -> tuple[StoredDescriptor, bool]:
        """Add or replace a submodel descriptor of an AAS descriptor: (the AAS descriptor, whether added)."""
        document = check_descriptor("submodel_descriptor", document)
        _check_same_id("submodel_descriptor", submodel_id, document)
        added = False

        def put(nested: list[Any]) -> None:
            nonlocal added
            for position, item in enumerate(nested):
                if item.get("id") == submodel_id:
                    nested[position] = document
                    return
            nested.append(document)
            added = True

        stored, _ = await self._edit_nested(shell_id, put, principal=principal, if_match=if_match)
        return stored, added

    async def nested_delete(
        self, shell_id: str, submodel_id: str, *, principal: Principal, if_match: str | None
    ) -> None:
        def remove(nested: list[Any]) -> None:
            del nested[_position(nested, shell_id, submodel_id)]

        await self._edit_nested(shell_id, remove, principal=principal, if_match=if_match)

    async def _edit_nested(
        self,
        shell_id: str,
        edit: Callable[[list[Any]], None],
        *,
        principal: Principal,
        if_match: str | None,
    ) -> tuple[StoredDescriptor, bool]:
        """Apply `edit` to the AAS descriptor's submodelDescriptors: (stored, whether it changed)."""
        authorize_write(principal, shell_id)
        async with self.repository.transaction(principal, origin=self.origin) as tx:
            current = _found(
                "shell_descriptor",
                shell_id,
                await store.read(tx.connection, "shell_descriptor", shell_id, for_update=True),
            )
            check_precondition(_what("shell_descriptor", shell_id), current.etag, if_match)
            document = current.document()
            nested = list(document.get("submodelDescriptors") or [])
            edit(nested)
            if nested:
                document["submodelDescriptors"] = nested
            else:
                document.pop("submodelDescriptors", None)
            if current.body == store.dumps(document):
                return current, False
            stored = await store.replace(tx.connection, current, document)
            tx.record(_change("updated", "shell_descriptor", document))
            return stored, True


def _change(type_: ChangeType, kind: DescriptorKind, document: dict[str, Any]) -> Change:
    semantic_id = semantic_id_of(document) if kind == "submodel_descriptor" else None
    return Change(type_, kind, document["id"], semantic_id=semantic_id, data=document)


def _check_same_id(kind: DescriptorKind, identifier: str, document: dict[str, Any]) -> None:
    if document["id"] != identifier:
        raise BadRequest(
            f"the {LABEL[kind]}'s id {document['id']!r} is not the one in the path ({identifier!r}): "
            "a PUT replaces the descriptor the path names, and cannot rename it"
        )


def _position(nested: list[Any], shell_id: str, submodel_id: str) -> int:
    for position, item in enumerate(nested):
        if item.get("id") == submodel_id:
            return position
    raise NotFound(f"the AAS descriptor {shell_id!r} has no submodel descriptor {submodel_id!r}")


def _what(kind: DescriptorKind, identifier: str) -> str:
    return f"the {LABEL[kind]} {identifier!r}"


def _found(kind: DescriptorKind, identifier: str, stored: StoredDescriptor | None) -> StoredDescriptor:
    """`stored`, or `NotFound` when the descriptor is not registered."""
    if stored is None:
        raise NotFound(f"no {LABEL[kind]} with id {identifier!r} is registered")
    return stored

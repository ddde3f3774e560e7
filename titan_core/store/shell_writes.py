"""Shell writes: asset information, thumbnail, and the references to submodels."""

import copy
from typing import Any

from aas_core3 import types as aas_types
from aas_core3 import verification
from sqlalchemy.ext.asyncio import AsyncConnection

from titan_core.auth import Principal
from titan_core.errors import Conflict, InvalidModel, NotFound
from titan_core.eventtypes.change import Change
from titan_core.model.paths import PathSegment
from titan_core.model.verify import parse_and_verify
from titan_core.store.documents import last_key_value
from titan_core.store.element_rules import file_value_of
from titan_core.store.identifiable_store import IdentifiableStore
from titan_core.store.records import Attachment, StoredIdentifiable

Path = tuple[PathSegment, ...]


class ShellWrites:
    """Writes of a shell's parts, each an `edit` of the shell (one part of the `Repository`).

    The thumbnail is the shell's attachment at path "" (its elements have none).
    """

    def __init__(self, store: IdentifiableStore) -> None:
        self._store = store

    async def set_asset_information(
        self,
        shell_id: str,
        asset_information: Any,
        *,
        origin: str,
        principal: Principal,
        if_match: str | None = None,
    ) -> None:
        information = parse_and_verify("asset_information", asset_information).jsonable
        await self._edit_shell(
            shell_id,
            lambda shell: shell.__setitem__("assetInformation", information),
            origin=origin,
            principal=principal,
            if_match=if_match,
        )

    async def add_submodel_reference(
        self,
        shell_id: str,
        reference: Any,
        *,
        origin: str,
        principal: Principal,
        if_match: str | None = None,
    ) -> dict[str, Any]:
        verified = parse_and_verify("reference", reference)
        new_reference = verified.jsonable
        _require_submodel_reference(verified.instance)

        def add(shell: dict[str, Any]) -> None:
            references = shell.setdefault("submodels", [])
            if new_reference in references:
                raise Conflict(f"the shell {shell_id!r} already references {last_key_value(new_reference)!r}")
            references.append(new_reference)

        await self._edit_shell(shell_id, add, origin=origin, principal=principal, if_match=if_match)
        return new_reference

    async def remove_submodel_reference(
        self,
        shell_id: str,
        submodel_id: str,
        *,
        origin: str,
        principal: Principal,
        if_match: str | None = None,
    ) -> None:
        def remove(shell: dict[str, Any]) -> None:
            references = shell.get("submodels") or []
            kept = [ref for ref in references if not references_submodel(ref, submodel_id)]
            if len(kept) == len(references):
                raise NotFound(f"the shell {shell_id!r} has no reference to submodel {submodel_id!r}")
            if kept:
                shell["submodels"] = kept
            else:
                shell.pop("submodels", None)

        await self._edit_shell(shell_id, remove, origin=origin, principal=principal, if_match=if_match)

    async def put_thumbnail(
        self,
        shell_id: str,
        attachment: Attachment,
        *,
        origin: str,
        principal: Principal,
        if_match: str | None = None,
    ) -> None:
        path = file_value_of(attachment, "assetInformation.defaultThumbnail")

        def set_thumbnail(shell: dict[str, Any]) -> None:
            shell["assetInformation"]["defaultThumbnail"] = {
                "path": path,
                "contentType": attachment.content_type,
            }

        async def store(connection: AsyncConnection, owner: StoredIdentifiable) -> None:
            await self._store.store_attachment(connection, owner, "", attachment)

        await self._edit_shell(
            shell_id,
            set_thumbnail,
            origin=origin,
            principal=principal,
            if_match=if_match,
            attachment_change=store,
        )

    async def delete_thumbnail(
        self,
        shell_id: str,
        *,
        origin: str,
        principal: Principal,
        if_match: str | None = None,
    ) -> None:
        def clear(shell: dict[str, Any]) -> None:
            shell["assetInformation"].pop("defaultThumbnail", None)

        async def drop(connection: AsyncConnection, owner: StoredIdentifiable) -> None:
            if not await self._store.drop_attachments(connection, owner, ""):
                raise NotFound(f"the shell {shell_id!r} has no thumbnail")

        await self._edit_shell(
            shell_id, clear, origin=origin, principal=principal, if_match=if_match, attachment_change=drop
        )

    async def _edit_shell(self, shell_id: str, change: Any, **options: Any) -> None:
        def edit(document: dict[str, Any]) -> tuple[dict[str, Any], list[Change]]:
            before = copy.deepcopy(document)
            change(document)
            if document == before:
                return document, []
            return document, [Change(type="updated", entity="shell", identifier=shell_id, data=document)]

        await self._store.edit("shell", shell_id, edit, **options)


def _require_submodel_reference(instance: aas_types.Class) -> None:
    """aas-core's shell invariant: every submodel reference is a ModelReference whose last key is a Submodel."""
    assert isinstance(instance, aas_types.Reference)  # parsed as a "reference"
    if verification.is_model_reference_to(instance, aas_types.KeyTypes.SUBMODEL):
        return
    # A verified Reference has at least one key.
    got = f"a {instance.type.value} whose last key is of type {instance.keys[-1].type.value}"
    raise InvalidModel(
        "a shell references submodels by a ModelReference whose last key is of type Submodel, e.g. "
        '{"type": "ModelReference", "keys": [{"type": "Submodel", "value": "<submodel id>"}]}; '
        f"got {got}"
    )


def references_submodel(reference: Any, submodel_id: str) -> bool:
    """Whether a shell's submodel reference points at `submodel_id` (its Submodel key)."""
    keys = reference.get("keys") if isinstance(reference, dict) else None
    if not isinstance(keys, list):
        return False
    return any(key.get("type") == "Submodel" and key.get("value") == submodel_id for key in keys)

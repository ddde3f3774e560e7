"""Environments out of the store as JSON, XML or AASX, one identifiable at a time.

An `ExportPlan` says which identifiables of each kind (ids, or None for all); the writers page
through the store, so a 100,000-submodel environment is never in memory whole.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import IO, Any

from aas_core3 import jsonization, xmlization

from titan_core.auth import Principal
from titan_core.errors import NotFound
from titan_core.exchange.aasx import AasxWriter, PackagePart
from titan_core.exchange.files import PartNamer, file_slots
from titan_core.exchange.xml import NAMESPACE
from titan_core.store.records import Kind, StoredIdentifiable
from titan_core.store.repository import Repository

FORMATS = ("json", "xml", "aasx")
MEDIA_TYPES = {
    "json": "application/json",
    "xml": "application/xml",
    "aasx": "application/asset-administration-shell-package+xml",
}
SECTIONS: tuple[tuple[str, Kind], ...] = (
    ("assetAdministrationShells", "shell"),
    ("submodels", "submodel"),
    ("conceptDescriptions", "concept_description"),
)
_PAGE = 500
_PARSE = {
    "shell": jsonization.asset_administration_shell_from_jsonable,
    "submodel": jsonization.submodel_from_jsonable,
    "concept_description": jsonization.concept_description_from_jsonable,
}


@dataclass(frozen=True)
class ExportPlan:
    """Per kind, the ids to export in that order (missing ones are a 404), or None for all of them."""

    shells: list[str] | None = None
    submodels: list[str] | None = None
    concept_descriptions: list[str] | None = None

    def ids(self, kind: Kind) -> list[str] | None:
        return {
            "shell": self.shells,
            "submodel": self.submodels,
            "concept_description": self.concept_descriptions,
        }[kind]


async def plan_for_shells(
    repository: Repository, shell_ids: list[str], *, principal: Principal
) -> ExportPlan:
    """The shells, the submodels they reference (those stored) and the concept descriptions that any of
    them refers to (those stored)."""
    submodel_ids: list[str] = []
    referenced: list[str] = []
    for shell_id in shell_ids:
        shell = (await repository.get("shell", shell_id, principal=principal)).document()
        referenced.extend(_key_values(shell))
        for reference in shell.get("submodels") or ():
            keys = reference.get("keys") or ()
            if keys and keys[-1].get("type") == "Submodel" and keys[-1]["value"] not in submodel_ids:
                submodel_ids.append(keys[-1]["value"])
    kept_submodels = []
    for submodel_id in submodel_ids:
        try:
            submodel = (await repository.get("submodel", submodel_id, principal=principal)).document()
        except NotFound:
            continue
        kept_submodels.append(submodel_id)
        referenced.extend(_key_values(submodel))
    concept_descriptions = []
    for value in dict.fromkeys(referenced):
        try:
            await repository.get("concept_description", value, principal=principal)
        except NotFound:
            continue
        concept_descriptions.append(value)
    return ExportPlan(list(shell_ids), kept_submodels, concept_descriptions)


def _key_values(node: Any) -> Iterator[str]:
    """Every key value of every reference below `node` (semanticIds, supplementalSemanticIds, …)."""
    if isinstance(node, dict):
        keys = node.get("keys")
        if isinstance(keys, list):
            for key in keys:
                if isinstance(key, dict) and isinstance(key.get("value"), str):
                    yield key["value"]
        for value in node.values():
            yield from _key_values(value)
    elif isinstance(node, list):
        for item in node:
            yield from _key_values(item)


async def stored_items(
    repository: Repository, kind: Kind, ids: list[str] | None, *, principal: Principal
) -> AsyncIterator[StoredIdentifiable]:
    if ids is not None:
        for identifier in ids:
            yield await repository.get(kind, identifier, principal=principal)
        return
    cursor: str | None = None
    while True:
        page = await repository.page(kind, limit=_PAGE, cursor=cursor, principal=principal)
        for item in page.items:
            yield item
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


async def json_chunks(
    repository: Repository, plan: ExportPlan, *, principal: Principal
) -> AsyncIterator[str]:
    """The environment as Part 2 JSON, in chunks of one identifiable (the stored text, unchanged).

    An empty section is left out, as the schema asks (its lists have at least one item)."""
    yield "{"
    opened_any = False
    for section, kind in SECTIONS:
        opened = False
        async for item in stored_items(repository, kind, plan.ids(kind), principal=principal):
            if not opened:
                yield ("," if opened_any else "") + f'"{section}":[' + item.body
                opened = opened_any = True
            else:
                yield "," + item.body
        if opened:
            yield "]"
    yield "}"


def to_xml(kind: Kind, document: dict[str, Any]) -> str:
    # Stored bodies were verified when written: parsing is enough, no second verification.
    return xmlization.to_str(_PARSE[kind](document))


async def xml_chunks(
    repository: Repository,
    plan: ExportPlan,
    *,
    principal: Principal,
    rewrite: dict[tuple[int, str], str] | None = None,
) -> AsyncIterator[str]:
    """The environment as AAS XML; `rewrite` maps (owner pk, attachment path) to a new File value."""
    yield f'<?xml version="1.0" encoding="UTF-8"?>\n<environment xmlns="{NAMESPACE}">'
    for section, kind in SECTIONS:
        opened = False
        async for item in stored_items(repository, kind, plan.ids(kind), principal=principal):
            if not opened:
                yield f"<{section}>"
                opened = True
            yield to_xml(kind, _rewritten(item, rewrite))
        if opened:
            yield f"</{section}>"
    yield "</environment>\n"


def _rewritten(item: StoredIdentifiable, rewrite: dict[tuple[int, str], str] | None) -> dict[str, Any]:
    document = item.document()
    if rewrite:
        for path, holder, key in file_slots(item.kind, document):
            new = rewrite.get((item.pk, path))
            if new is not None:
                holder[key] = new
    return document


async def write_aasx_export(
    out: IO[bytes], repository: Repository, plan: ExportPlan, *, principal: Principal
) -> None:
    """An AASX package: the files first (File values then name their parts), then the XML spec part."""
    writer = AasxWriter(out)
    namer = PartNamer()
    rewrite: dict[tuple[int, str], str] = {}
    for kind in ("shell", "submodel"):
        owners = await repository.owners_with_attachments(kind)
        if not owners:
            continue
        async for item in stored_items(repository, kind, plan.ids(kind), principal=principal):
            if item.pk not in owners:
                continue
            document = item.document()
            found = await repository.attachments_of(item)
            for path, _holder, _key in file_slots(kind, document):
                attachment = found.get(path)
                if attachment is None:
                    continue
                name = namer.name_for(attachment.file_name)
                writer.add_file(
                    PackagePart(name, attachment.content_type, attachment.data), thumbnail=path == ""
                )
                rewrite[(item.pk, path)] = name
    with writer.open_spec() as spec:
        async for chunk in xml_chunks(repository, plan, principal=principal, rewrite=rewrite):
            spec.write(chunk.encode("utf-8"))
    writer.close()


__all__ = [
    "FORMATS",
    "MEDIA_TYPES",
    "ExportPlan",
    "json_chunks",
    "plan_for_shells",
    "write_aasx_export",
    "xml_chunks",
]

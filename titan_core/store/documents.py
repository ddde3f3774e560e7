"""Facts the store indexes about a document: id, idShort, semanticId, asset ids, Blob values."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from titan_core.store.records import Kind

# Containers whose items are submodel elements, by the key that holds them.
_CHILD_KEYS = ("submodelElements", "value", "statements", "annotations")


@dataclass(frozen=True)
class DocumentFacts:
    identifier: str
    id_short: str | None
    semantic_id: str | None
    asset_ids: tuple[tuple[str, str], ...]
    has_blob_values: bool


def last_key_value(reference: Any) -> str | None:
    """The value of a Reference's last key (how events and filters name a semanticId)."""
    if isinstance(reference, dict):
        keys = reference.get("keys")
        if isinstance(keys, list) and keys and isinstance(keys[-1], dict):
            value = keys[-1].get("value")
            return value if isinstance(value, str) else None
    return None


def facts_of(kind: Kind, document: dict[str, Any]) -> DocumentFacts:
    asset_ids: list[tuple[str, str]] = []
    if kind == "shell":
        information = document.get("assetInformation") or {}
        global_asset_id = information.get("globalAssetId")
        if isinstance(global_asset_id, str):
            asset_ids.append(("globalAssetId", global_asset_id))
        for specific in information.get("specificAssetIds") or ():
            asset_ids.append((str(specific.get("name")), str(specific.get("value"))))
    return DocumentFacts(
        identifier=document["id"],
        id_short=document.get("idShort"),
        semantic_id=last_key_value(document.get("semanticId")),
        asset_ids=tuple(asset_ids),
        has_blob_values=kind == "submodel" and has_blob_values(document),
    )


def has_blob_values(node: Any) -> bool:
    """Whether any Blob below `node` carries content (only then must default reads strip it)."""
    if isinstance(node, dict):
        if node.get("modelType") == "Blob" and node.get("value"):
            return True
        for key in _CHILD_KEYS:
            children = node.get(key)
            if isinstance(children, list) and any(has_blob_values(child) for child in children):
                return True
        if node.get("modelType") == "Operation":
            for key in ("inputVariables", "outputVariables", "inoutputVariables"):
                for variable in node.get(key) or ():
                    if has_blob_values(variable.get("value")):
                        return True
    return False

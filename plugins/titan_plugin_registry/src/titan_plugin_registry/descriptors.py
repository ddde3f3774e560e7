"""Checking a descriptor against the IDTA schema, and reading the columns it is found by.

Descriptors are not part of the AAS meta-model (aas-core knows nothing of them), so a body is
checked against the Part 2 schema itself: `descriptor_schema.json`, derived from the IDTA files
(tests/descriptor_schema_source.py). A bad body is refused with every rule it breaks and where.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import jsonschema_rs

from titan_core.plugin_api import BadRequest

DescriptorKind = Literal["shell_descriptor", "submodel_descriptor"]

SCHEMA_FILE = Path(__file__).with_name("descriptor_schema.json")
_DEFINITION = {
    "shell_descriptor": "AssetAdministrationShellDescriptor",
    "submodel_descriptor": "SubmodelDescriptor",
}
LABEL = {"shell_descriptor": "AAS descriptor", "submodel_descriptor": "submodel descriptor"}
# Enough to say what is wrong without flooding the answer.
_MAX_REPORTED = 20


@functools.cache
def _validator(kind: DescriptorKind) -> Any:
    document = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    schema = {"definitions": document["definitions"], "$ref": f"#/definitions/{_DEFINITION[kind]}"}
    return jsonschema_rs.Draft4Validator(schema)


def check_descriptor(kind: DescriptorKind, document: Any) -> dict[str, Any]:
    """`document` if it is a valid descriptor of `kind`; otherwise `BadRequest` naming each violation."""
    if not isinstance(document, dict):
        raise BadRequest(f"the {LABEL[kind]} must be a JSON object, got {type(document).__name__}")
    problems = [
        f"{_path(error.instance_path)}: {error.message}"
        for _, error in zip(range(_MAX_REPORTED + 1), _validator(kind).iter_errors(document), strict=False)
    ]
    if problems:
        more = " (and more)" if len(problems) > _MAX_REPORTED else ""
        raise BadRequest(
            f"the {LABEL[kind]} does not follow the IDTA schema {_DEFINITION[kind]}: "
            + "; ".join(problems[:_MAX_REPORTED])
            + more
        )
    if kind == "shell_descriptor":
        for position, nested in enumerate(document.get("submodelDescriptors") or []):
            _check_unique_in(document, position, nested)
    return document


def _check_unique_in(shell: Mapping[str, Any], position: int, nested: Mapping[str, Any]) -> None:
    earlier = [item.get("id") for item in (shell.get("submodelDescriptors") or [])[:position]]
    if nested.get("id") in earlier:
        raise BadRequest(
            f"submodelDescriptors[{position}]: the submodel descriptor {nested.get('id')!r} is listed twice; "
            "each submodel appears once in an AAS descriptor"
        )


def _path(parts: Any) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(the descriptor)"


@dataclass(frozen=True)
class ShellColumns:
    """What an AAS descriptor is listed and found by."""

    id_short: str | None
    asset_kind: str | None
    asset_type: str | None
    global_asset_id: str | None


def shell_columns(document: Mapping[str, Any]) -> ShellColumns:
    return ShellColumns(
        id_short=document.get("idShort"),
        asset_kind=document.get("assetKind"),
        asset_type=document.get("assetType"),
        global_asset_id=document.get("globalAssetId"),
    )


def semantic_id_of(document: Mapping[str, Any]) -> str | None:
    """The value of the last key of the descriptor's semanticId, if it has one."""
    keys = (document.get("semanticId") or {}).get("keys") or []
    value = keys[-1].get("value") if keys else None
    return value if isinstance(value, str) else None

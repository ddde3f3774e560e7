"""Part 2 descriptors and Discovery asset links built from this instance's shells and submodels.

Pure functions of the documents (no I/O), so what a registry receives is tested on its own. Every
endpoint points at this instance: `{base}/shells/{base64url(id)}` (interface `AAS-3.0`) and
`{base}/submodels/{base64url(id)}` (interface `SUBMODEL-3.0`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from titan_core.plugin_api import encode_identifier

AAS_INTERFACE = "AAS-3.0"
SUBMODEL_INTERFACE = "SUBMODEL-3.0"
# What a client reading a descriptor needs to know about the endpoint besides its address.
_PROTOCOL = {"endpointProtocol": "HTTP", "endpointProtocolVersion": ["1.1"]}
# Fields a shell and its descriptor share (Part 2, AssetAdministrationShellDescriptor).
_SHELL_FIELDS = ("description", "displayName", "administration", "idShort", "id")
_ASSET_FIELDS = ("assetKind", "assetType", "globalAssetId", "specificAssetIds")
# Fields a submodel and its descriptor share (Part 2, SubmodelDescriptor).
_SUBMODEL_FIELDS = ("description", "displayName", "administration", "idShort", "id", "semanticId",
                    "supplementalSemanticIds")  # fmt: skip


# The descriptors' idShort pattern (Part 2 V3.0 and V3.1 schemas) needs two characters at least,
# where Part 1 takes one: such an idShort is left out, or the registry would refuse the descriptor.
_DESCRIPTOR_ID_SHORT = re.compile(r"^[a-zA-Z][a-zA-Z0-9_-]*[a-zA-Z0-9_]+$")


def shell_href(base_url: str, identifier: str) -> str:
    return f"{base_url}/shells/{encode_identifier(identifier)}"


def submodel_href(base_url: str, identifier: str) -> str:
    return f"{base_url}/submodels/{encode_identifier(identifier)}"


def endpoint(interface: str, href: str) -> dict[str, Any]:
    return {"interface": interface, "protocolInformation": {"href": href, **_PROTOCOL}}


def submodel_ids(shell: Mapping[str, Any]) -> list[str]:
    """The ids of the submodels a shell refers to, in its order (each reference's Submodel key)."""
    found: list[str] = []
    for reference in shell.get("submodels") or []:
        keys = reference.get("keys") if isinstance(reference, Mapping) else None
        values = [
            key.get("value")
            for key in keys or []
            if isinstance(key, Mapping) and key.get("type") == "Submodel"
        ]
        if values and isinstance(values[-1], str) and values[-1] not in found:
            found.append(values[-1])
    return found


def submodel_descriptor(base_url: str, identifier: str, submodel: Mapping[str, Any] | None) -> dict[str, Any]:
    """The SubmodelDescriptor of `submodel`; with None (referred to but not here), id and endpoint only."""
    descriptor = _copied(submodel or {}, _SUBMODEL_FIELDS)
    descriptor["id"] = identifier
    descriptor["endpoints"] = [endpoint(SUBMODEL_INTERFACE, submodel_href(base_url, identifier))]
    return descriptor


def shell_descriptor(
    base_url: str, shell: Mapping[str, Any], submodels: Mapping[str, Mapping[str, Any] | None]
) -> dict[str, Any]:
    """The AssetAdministrationShellDescriptor of `shell`, with a SubmodelDescriptor for each submodel
    it refers to (`submodels` maps their ids to the documents found here, None for one not here)."""
    descriptor = _copied(shell, _SHELL_FIELDS)
    descriptor |= _copied(shell.get("assetInformation") or {}, _ASSET_FIELDS)
    descriptor["endpoints"] = [endpoint(AAS_INTERFACE, shell_href(base_url, str(shell["id"])))]
    nested = [submodel_descriptor(base_url, identifier, submodels.get(identifier))
              for identifier in submodel_ids(shell)]  # fmt: skip
    if nested:
        descriptor["submodelDescriptors"] = nested
    return descriptor


def asset_links(shell: Mapping[str, Any]) -> list[dict[str, Any]]:
    """What a Discovery links to the shell: its globalAssetId (as the SpecificAssetId named
    `globalAssetId`, as Part 2 asks) and its specificAssetIds."""
    information = shell.get("assetInformation") or {}
    links: list[dict[str, Any]] = []
    global_asset_id = information.get("globalAssetId")
    if isinstance(global_asset_id, str) and global_asset_id:
        links.append({"name": "globalAssetId", "value": global_asset_id})
    for specific in information.get("specificAssetIds") or []:
        if isinstance(specific, Mapping) and specific.get("name") and specific.get("value"):
            links.append(dict(specific))
    return links


def points_at(descriptor: Mapping[str, Any], base_url: str) -> bool:
    """Whether an endpoint of `descriptor` is below `base_url`: a descriptor this instance registered."""
    prefix = base_url + "/"
    for item in descriptor.get("endpoints") or []:
        information = item.get("protocolInformation") if isinstance(item, Mapping) else None
        href = information.get("href") if isinstance(information, Mapping) else None
        if isinstance(href, str) and href.startswith(prefix):
            return True
    return False


def _copied(document: Mapping[str, Any], fields: tuple[str, ...]) -> dict[str, Any]:
    # Empty lists and texts are left out: the descriptor schema wants at least one item where a list is given.
    copied = {name: document[name] for name in fields if document.get(name) not in (None, "", [], {})}
    if not _DESCRIPTOR_ID_SHORT.match(str(copied.get("idShort", "ok"))):
        del copied["idShort"]
    return copied

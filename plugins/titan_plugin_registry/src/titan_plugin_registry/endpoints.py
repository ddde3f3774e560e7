"""Descriptors of this instance's twins, for automatic registration: what a registry needs to find
a shell or submodel here (ids, names, asset ids, semantic ids) and the endpoints to read it at."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from titan_core.plugin_api import encode_identifier

# Fields a descriptor copies from the shell or submodel as they are (same names, same schemas).
_SHARED = ("id", "idShort", "description", "displayName", "administration", "extensions")
_SUBMODEL_ONLY = ("semanticId", "supplementalSemanticIds")
# A descriptor's idShort is stricter than the meta-model's (at least two characters): one that does
# not fit is left out rather than making the descriptor invalid; the id is what a registry needs.
_DESCRIPTOR_ID_SHORT = re.compile(r"[a-zA-Z][a-zA-Z0-9_-]*[a-zA-Z0-9_]+")


def _endpoint(interface: str, href: str) -> dict[str, Any]:
    return {
        "interface": interface,
        "protocolInformation": {"href": href, "endpointProtocol": "HTTP", "endpointProtocolVersion": ["1.1"]},
    }


def _copied(source: Mapping[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    copied = {name: source[name] for name in names if source.get(name) not in (None, [], "")}
    if not _DESCRIPTOR_ID_SHORT.fullmatch(str(copied.get("idShort", "xx"))):
        del copied["idShort"]
    return copied


def submodel_descriptor(base_url: str, submodel: Mapping[str, Any]) -> dict[str, Any]:
    """The Submodel Registry's descriptor of a submodel served at `base_url`."""
    descriptor = _copied(submodel, _SHARED + _SUBMODEL_ONLY)
    href = f"{base_url.rstrip('/')}/submodels/{encode_identifier(submodel['id'])}"
    descriptor["endpoints"] = [_endpoint("SUBMODEL-3.0", href)]
    return descriptor


def shell_descriptor(base_url: str, shell: Mapping[str, Any]) -> dict[str, Any]:
    """The AAS Registry's descriptor of a shell served at `base_url`, with one submodel descriptor
    per submodel it references (the submodel's endpoint below the shell)."""
    base = base_url.rstrip("/")
    shell_path = f"{base}/shells/{encode_identifier(shell['id'])}"
    descriptor = _copied(shell, _SHARED)
    information = shell.get("assetInformation") or {}
    descriptor.update(_copied(information, ("assetKind", "assetType", "globalAssetId", "specificAssetIds")))
    descriptor["endpoints"] = [_endpoint("AAS-3.0", shell_path)]
    nested = []
    for reference in shell.get("submodels") or []:
        keys = reference.get("keys") or []
        if not keys:
            continue
        submodel_id = keys[-1]["value"]
        href = f"{shell_path}/submodels/{encode_identifier(submodel_id)}"
        nested.append({"id": submodel_id, "endpoints": [_endpoint("SUBMODEL-3.0", href)]})
    if nested:
        descriptor["submodelDescriptors"] = nested
    return descriptor

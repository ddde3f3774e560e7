"""Helpers of the discovery plugin's tests: identifiers in URLs, a shell with asset ids, a checked answer."""

from __future__ import annotations

import base64
import json
from typing import Any


def b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).rstrip(b"=").decode()


def shell(shell_id: str, global_asset_id: str | None = None, **specific: str) -> dict[str, Any]:
    """A shell whose asset information has `global_asset_id` and the specific asset ids `specific`."""
    information: dict[str, Any] = {"assetKind": "Instance"}
    if global_asset_id:
        information["globalAssetId"] = global_asset_id
    if specific:
        information["specificAssetIds"] = [{"name": name, "value": value} for name, value in specific.items()]
    return {
        "id": shell_id,
        "idShort": "pump",
        "modelType": "AssetAdministrationShell",
        "assetInformation": information,
    }


async def ok(response: Any, status: int = 200) -> Any:
    """The JSON answer (None when empty), after checking its status is `status`."""
    body = await response.text()
    assert response.status == status, f"{response.method} {response.url}: {response.status} {body}"
    return json.loads(body) if body else None

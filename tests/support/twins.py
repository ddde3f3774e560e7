"""Builders of the small AAS documents tests write: one place for the shapes every test area shares.

Each area (tests/api, tests/events, tests/mqtt, tests/security) keeps only its own sample data (the
twin it loads, its default values) and builds it with these. Identifiers are encoded here
independently of `titan_core`, so a test never checks the server's encoding with the server's code.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from typing import Any

JsonDict = dict[str, Any]


def b64(identifier: str) -> str:
    """Unpadded base64url of the UTF-8 identifier, as Part 2 puts identifiers into paths and topics."""
    return base64.urlsafe_b64encode(identifier.encode("utf-8")).decode("ascii").rstrip("=")


def prop(id_short: str | None, value: str | None, value_type: str = "xs:string", **extra: Any) -> JsonDict:
    """A Property; `id_short` None for a list item, `value` None for one without a value."""
    element: JsonDict = {"modelType": "Property", "valueType": value_type, **extra}
    if id_short is not None:
        element["idShort"] = id_short
    if value is not None:
        element["value"] = value
    return element


def reading(
    id_short: str | None, value: str | None = "1.5", value_type: str = "xs:double", **extra: Any
) -> JsonDict:
    """A Property as the event and MQTT areas write their readings: a double (1.5) unless told otherwise."""
    return prop(id_short, value, value_type, **extra)


def box_and_series() -> list[JsonDict]:
    """The two containers of the event and MQTT areas' default submodels: the collection `Box` (a
    double `Inner`, 1) and the list `Series` of two doubles (1, 2)."""
    return [
        {"modelType": "SubmodelElementCollection", "idShort": "Box", "value": [reading("Inner", "1")]},
        {
            "modelType": "SubmodelElementList",
            "idShort": "Series",
            "typeValueListElement": "Property",
            "valueTypeListElement": "xs:double",
            "value": [reading(None, "1"), reading(None, "2")],
        },
    ]


def submodel_reference(submodel_id: str) -> JsonDict:
    """The ModelReference a shell lists its submodels by."""
    return {"type": "ModelReference", "keys": [{"type": "Submodel", "value": submodel_id}]}


def shell(
    shell_id: str,
    submodel_ids: Iterable[str] = (),
    *,
    id_short: str | None = None,
    asset_information: JsonDict | None = None,
) -> JsonDict:
    """An AssetAdministrationShell (an Instance whose global asset id is `<shell_id>/asset` by default)."""
    document: JsonDict = {
        "modelType": "AssetAdministrationShell",
        "id": shell_id,
        "assetInformation": asset_information
        or {"assetKind": "Instance", "globalAssetId": shell_id + "/asset"},
    }
    if id_short is not None:
        document["idShort"] = id_short
    references = [submodel_reference(submodel_id) for submodel_id in submodel_ids]
    if references:
        document["submodels"] = references
    return document


def submodel(submodel_id: str, elements: Iterable[JsonDict] = (), *, id_short: str | None = None) -> JsonDict:
    """A Submodel with these elements (none: no `submodelElements` member)."""
    document: JsonDict = {"modelType": "Submodel", "id": submodel_id}
    if id_short is not None:
        document["idShort"] = id_short
    listed = list(elements)
    if listed:
        document["submodelElements"] = listed
    return document

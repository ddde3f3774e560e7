"""Builders of Part 2 JSON for the REST API tests, and the assertions they share.

The identifiers are encoded here with the standard library on purpose, so a bug in Titan's own
base64url code cannot hide behind the same code in the tests.
"""

from __future__ import annotations

import base64
import copy
import json
from typing import Any

from aiohttp import ClientResponse, FormData

from tests.support.app import AppClient
from tests.support.twins import b64 as b64  # re-exported for the API tests
from tests.support.twins import prop as prop

JsonDict = dict[str, Any]

SM_ID = "https://example.com/ids/sm/every_element"
SHELL_ID = "https://example.com/ids/aas/pump"
CD_ID = "https://example.com/ids/cd/temperature"
ASSET_ID = "https://example.com/ids/asset/pump_4711"


# ---------------------------------------------------------------- URLs


def b64_json(document: Any) -> str:
    """base64url of a JSON document (the `assetIds` query parameter)."""
    return b64(json.dumps(document))


def shell_url(shell_id: str) -> str:
    return f"/shells/{b64(shell_id)}"


def submodel_url(submodel_id: str) -> str:
    return f"/submodels/{b64(submodel_id)}"


def cd_url(cd_id: str) -> str:
    return f"/concept-descriptions/{b64(cd_id)}"


def element_url(submodel_id: str, path: str) -> str:
    return f"{submodel_url(submodel_id)}/submodel-elements/{path}"


# ---------------------------------------------------------------- meta-model builders


def external_ref(value: str) -> JsonDict:
    return {"type": "ExternalReference", "keys": [{"type": "GlobalReference", "value": value}]}


def model_ref(*keys: tuple[str, str]) -> JsonDict:
    return {"type": "ModelReference", "keys": [{"type": kind, "value": value} for kind, value in keys]}


def submodel_ref(submodel_id: str) -> JsonDict:
    return model_ref(("Submodel", submodel_id))


def _given(document: JsonDict, **members: Any) -> JsonDict:
    """`document` with the `members` that are given: None and empty lists are left out, as Part 2
    omits an optional member rather than sending it empty."""
    document.update({name: value for name, value in members.items() if value is not None and value != []})
    return document


def collection(id_short: str | None, *children: JsonDict) -> JsonDict:
    return _given({"modelType": "SubmodelElementCollection"}, idShort=id_short, value=list(children))


def element_list(id_short: str, type_value: str, *items: JsonDict, value_type: str | None = None) -> JsonDict:
    return _given(
        {"modelType": "SubmodelElementList", "idShort": id_short, "typeValueListElement": type_value},
        valueTypeListElement=value_type,
        value=list(items),
    )


def submodel(
    identifier: str,
    *elements: JsonDict,
    id_short: str | None = None,
    semantic_id: str | None = None,
) -> JsonDict:
    return _given(
        {"modelType": "Submodel", "id": identifier},
        idShort=id_short,
        semanticId=None if semantic_id is None else external_ref(semantic_id),
        submodelElements=list(elements),
    )


def shell(
    identifier: str,
    *submodel_ids: str,
    global_asset_id: str | None = ASSET_ID,
    specific_asset_ids: tuple[tuple[str, str], ...] = (),
    id_short: str | None = None,
) -> JsonDict:
    information = _given(
        {"assetKind": "Instance"},
        globalAssetId=global_asset_id,
        specificAssetIds=[{"name": name, "value": value} for name, value in specific_asset_ids],
    )
    return _given(
        {"modelType": "AssetAdministrationShell", "id": identifier, "assetInformation": information},
        idShort=id_short,
        submodels=[submodel_ref(submodel_id) for submodel_id in submodel_ids],
    )


def concept_description(identifier: str, id_short: str | None = None) -> JsonDict:
    return _given({"modelType": "ConceptDescription", "id": identifier}, idShort=id_short)


_EVERY_ELEMENT: list[JsonDict] = [
    prop("Name", "Example Pumps Ltd"),
    prop("Speed", "1500", "xs:int"),
    prop("Temperature", "23.5", "xs:double"),
    prop("Running", "true", "xs:boolean"),
    {
        "modelType": "MultiLanguageProperty",
        "idShort": "Designation",
        "value": [{"language": "en", "text": "Pump"}, {"language": "de", "text": "Pumpe"}],
    },
    {"modelType": "Range", "idShort": "Operating", "valueType": "xs:int", "min": "-20", "max": "80"},
    {
        "modelType": "Blob",
        "idShort": "Firmware",
        "contentType": "application/octet-stream",
        "value": base64.b64encode(b"firmware bytes").decode("ascii"),
    },
    {"modelType": "File", "idShort": "Manual", "contentType": "application/pdf", "value": "manual.pdf"},
    {
        "modelType": "ReferenceElement",
        "idShort": "ManualRef",
        "value": model_ref(("Submodel", SM_ID), ("File", "Manual")),
    },
    {
        "modelType": "RelationshipElement",
        "idShort": "Drives",
        "first": model_ref(("Submodel", SM_ID), ("Entity", "Motor")),
        "second": model_ref(("Submodel", SM_ID), ("Property", "Speed")),
    },
    {
        "modelType": "AnnotatedRelationshipElement",
        "idShort": "MeasuredBy",
        "first": model_ref(("Submodel", SM_ID), ("Property", "Temperature")),
        "second": external_ref("https://example.com/ids/asset/sensor"),
        "annotations": [prop("Accuracy", "0.1", "xs:double")],
    },
    {
        "modelType": "Entity",
        "idShort": "Motor",
        "entityType": "SelfManagedEntity",
        "globalAssetId": "https://example.com/ids/asset/motor",
        "statements": [prop("Power", "2.2", "xs:double")],
    },
    {
        "modelType": "BasicEventElement",
        "idShort": "Overheat",
        "observed": model_ref(("Submodel", SM_ID), ("Property", "Temperature")),
        "direction": "output",
        "state": "on",
    },
    {
        "modelType": "Operation",
        "idShort": "Restart",
        "inputVariables": [{"value": prop("Delay", "0", "xs:int")}],
    },
    {"modelType": "Capability", "idShort": "CanPump"},
    collection(
        "Maintenance",
        prop("IntervalDays", "180", "xs:int"),
        element_list(
            "Records",
            "SubmodelElementCollection",
            collection(None, prop("Note", "first")),
            collection(None, prop("Note", "second")),
            collection(None, prop("Note", "third"), prop("Hours", "12", "xs:int")),
        ),
    ),
    element_list(
        "Readings",
        "Property",
        prop(None, "20.5", "xs:double"),
        prop(None, "21.5", "xs:double"),
        value_type="xs:double",
    ),
]


def every_element_submodel(identifier: str = SM_ID) -> JsonDict:
    """A valid submodel with one element of every type, and a list of collections nested in a collection.

    `Maintenance.Records[2].Note` is the deep path the tests write through.
    """
    return submodel(
        identifier,
        *copy.deepcopy(_EVERY_ELEMENT),
        id_short="EveryElement",
        semantic_id="https://example.com/semantics/every_element",
    )


def upload(
    content: bytes,
    file_name: str,
    content_type: str = "application/octet-stream",
    *,
    part_file_name: str = "upload.bin",
) -> FormData:
    """A multipart/form-data body with the parts `file` and `fileName` (attachments, thumbnails).

    `file_name` travels in the body of the `fileName` part, so it may hold any character;
    `part_file_name` is the `filename` of the `file` part's header.
    """
    form = FormData()
    form.add_field("file", content, filename=part_file_name, content_type=content_type)
    form.add_field("fileName", file_name, content_type="text/plain")
    return form


# ---------------------------------------------------------------- assertions


async def created(client: AppClient, collection_url: str, document: JsonDict) -> JsonDict:
    """POST `document` to a collection, asserting 201; the stored JSON."""
    response = await client.post(collection_url, json=document)
    assert response.status == 201, await response.text()
    body: JsonDict = await response.json()
    return body


async def get_json(client: AppClient, url: str, status: int = 200) -> Any:
    response = await client.get(url)
    assert response.status == status, f"GET {url}: {response.status} {await response.text()}"
    return await response.json()


async def etag_of(client: AppClient, url: str) -> str:
    response = await client.get(url)
    assert response.status == 200, await response.text()
    etag = response.headers.get("ETag")
    assert etag, f"GET {url} returned no ETag"
    return etag


async def assert_idta_error(response: ClientResponse, status: int, *fragments: str) -> str:
    """Assert the status and an IDTA error body (exactly `{"messages": [...]}`) that mentions `fragments`.

    Returns all message texts joined, for further checks. Fragments compare case-insensitively.
    """
    raw = await response.read()
    text = raw.decode("utf-8", errors="replace")
    shown = (
        text[:2000]
        if response.content_type == "application/json"
        else f"{response.content_type} {raw[:100]!r}"
    )
    assert response.status == status, f"expected {status}, got {response.status}: {shown}"
    assert response.content_type == "application/json", response.content_type
    body = json.loads(text)
    assert isinstance(body, dict) and list(body) == ["messages"], body
    messages = body["messages"]
    assert isinstance(messages, list) and messages, body
    for message in messages:
        assert message["messageType"] == "Error", message
        assert message["code"] == str(status), message
        assert isinstance(message["text"], str) and message["text"], message
        assert "timestamp" in message, message
    joined = " | ".join(message["text"] for message in messages)
    for fragment in fragments:
        assert fragment.lower() in joined.lower(), f"{fragment!r} not in error text: {joined}"
    return joined


_KIND_URLS = (
    ("assetAdministrationShells", shell_url),
    ("submodels", submodel_url),
    ("conceptDescriptions", cd_url),
)


async def snapshot(client: AppClient) -> JsonDict:
    """Everything a client can see of the repository: `/serialization` plus every identifiable's ETag.

    Two equal snapshots mean no content changed and no version was bumped.
    """
    environment = await get_json(client, "/serialization")
    etags: dict[str, str] = {}
    for section, url_of in _KIND_URLS:
        for item in environment.get(section) or ():
            etags[f"{section}:{item['id']}"] = await etag_of(client, url_of(item["id"]))
    return {"environment": environment, "etags": etags}


def messages_of(body: Any) -> list[str]:
    return [message["text"] for message in body["messages"]]


async def assert_refused_unchanged(
    client: AppClient,
    response: ClientResponse,
    before: JsonDict,
    status: int,
    *fragments: str,
    what: str = "",
) -> None:
    """`response` is an IDTA error `status` naming `fragments`, and the repository is still `before`
    (a `snapshot`). `what` names the request in the failure message (e.g. `PATCH Speed/$value 1`)."""
    try:
        await assert_idta_error(response, status, *fragments)
    except AssertionError as failure:
        raise AssertionError(f"{what}: {failure}") from None
    assert await snapshot(client) == before, f"{what} changed the repository"


async def assert_refused_or_still_valid(
    client: AppClient, response: ClientResponse, url: str, what: str
) -> bool:
    """After a write that may be refused: a refusal must be a 400 in the IDTA format (False); an
    accepted write (True) must have stored a document that passes the meta-model, which a PUT of it
    back to `url` shows. `url` may carry a query for the GET (`?extent=withBlobValue`)."""
    if response.status != 204:
        await assert_idta_error(response, 400)
        return False
    stored = await get_json(client, url)
    again = await client.put(url.partition("?")[0], json=stored)
    assert again.status == 204, f"{what} stored an invalid document: {await again.text()}"
    return True


async def assert_uploaded(
    client: AppClient, url: str, content: bytes, file_name: str, content_type: str
) -> ClientResponse:
    """PUT `content` as `file_name` to the attachment or thumbnail `url` (204), and GET it back: 200
    with the same bytes and content type. Returns the download, for checks of its headers."""
    response = await client.put(url, data=upload(content, file_name, content_type))
    assert response.status == 204, await response.text()
    download = await client.get(url)
    assert download.status == 200
    assert await download.read() == content
    assert download.content_type == content_type
    return download

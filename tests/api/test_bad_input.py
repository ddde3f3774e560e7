"""Bad input gets a 4xx with an IDTA error body that says what was wrong, and changes nothing (issue point 4)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.support.app import AppClient, AppClientFactory
from titan_core.settings import Settings

from .helpers import (
    CD_ID,
    SHELL_ID,
    SM_ID,
    assert_idta_error,
    b64,
    cd_url,
    concept_description,
    element_url,
    get_json,
    prop,
    shell,
    shell_url,
    snapshot,
    submodel,
    submodel_url,
    upload,
)

JSON = {"Content-Type": "application/json"}
NEW_SM = "https://example.com/ids/sm/new"


async def _assert_refused(
    client: AppClient, method: str, url: str, status: int, *fragments: str, label: str = "", **request: Any
) -> str:
    """Send the request; assert the status, an IDTA body mentioning `fragments`, and an unchanged repository."""
    before = await snapshot(client)
    response = await client.request(method, url, **request)
    try:
        text = await assert_idta_error(response, status, *fragments)
    except AssertionError as failure:
        raise AssertionError(f"{label or ''} {method} {url}: {failure}") from None
    assert await snapshot(client) == before, f"{label} {method} {url} changed the repository"
    return text


# ---------------------------------------------------------------- bodies that are not JSON documents

RAW_BODIES: list[tuple[str, bytes, dict[str, str], int, tuple[str, ...]]] = [
    ("truncated JSON", b'{"id": "urn:x", ', JSON, 400, ("not valid JSON", "line 1")),
    ("trailing garbage", b'{"id": "urn:x"} x', JSON, 400, ("not valid JSON",)),
    ("empty body", b"", JSON, 400, ("empty",)),
    ("invalid UTF-8", b'{"id": "\xff\xfe"}', JSON, 400, ("UTF-8",)),
    ("not JSON at all", b"<submodel/>", {"Content-Type": "application/xml"}, 415, ("application/json",)),
    ("nested 10,000 levels", b"[" * 10_000 + b"]" * 10_000, JSON, 400, ("nested",)),
    ("nested objects", b'{"a":' * 10_000 + b"1" + b"}" * 10_000, JSON, 400, ("nested",)),
    ("nested 300 levels", b"[" * 300 + b"]" * 300, JSON, 400, ("nest",)),
    ("a JSON array", b"[]", JSON, 400, ("JSON object",)),
    ("a JSON string", b'"submodel"', JSON, 400, ("JSON object",)),
    ("JSON null", b"null", JSON, 400, ("null",)),
    (
        "a 5000-digit number",
        b'{"modelType": "Submodel", "id": "urn:x", "n": ' + b"1" * 5000 + b"}",
        JSON,
        400,
        ("digits",),
    ),
    ("NaN, which is no JSON", b'{"modelType": "Submodel", "id": NaN}', JSON, 400, ("NaN",)),
]


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("POST", "/submodels"),
        ("PUT", submodel_url(SM_ID)),
        ("POST", "/shells"),
        ("POST", f"{submodel_url(SM_ID)}/submodel-elements"),
        ("PUT", element_url(SM_ID, "Speed")),
    ],
)
async def test_body_that_is_no_json_document_is_refused(
    loaded_client: AppClient, method: str, url: str
) -> None:
    for name, body, headers, status, fragments in RAW_BODIES:
        await _assert_refused(
            loaded_client, method, url, status, *fragments, data=body, headers=headers, label=name
        )


@pytest.mark.parametrize(
    ("body", "fragments"),
    [
        (b'{"Speed": ', ("not valid JSON",)),
        (b"\xff", ("UTF-8",)),
        (b"[" * 10_000 + b"]" * 10_000, ("nested",)),
    ],
)
async def test_value_patch_with_a_body_that_is_no_json_is_refused(
    loaded_client: AppClient, body: bytes, fragments: tuple[str, ...]
) -> None:
    await _assert_refused(
        loaded_client, "PATCH", f"{submodel_url(SM_ID)}/$value", 400, *fragments, data=body, headers=JSON
    )
    await _assert_refused(
        loaded_client, "PATCH", element_url(SM_ID, "Speed/$value"), 400, *fragments, data=body, headers=JSON
    )


# ---------------------------------------------------------------- JSON that is not a valid model object

INVALID_SUBMODELS: list[tuple[str, Any, tuple[str, ...]]] = [
    (
        "wrong modelType",
        {**submodel(NEW_SM), "modelType": "AssetAdministrationShell"},
        ("modelType", "Submodel"),
    ),
    ("unknown modelType", {**submodel(NEW_SM), "modelType": "Submodule"}, ("modelType",)),
    ("missing modelType", {"id": NEW_SM}, ("modelType",)),
    ("missing id", {"modelType": "Submodel"}, ("id",)),
    ("id of the wrong type", {"modelType": "Submodel", "id": 42}, ("id", "str")),
    ("empty id", {"modelType": "Submodel", "id": ""}, ("id",)),
    ("unknown member", {**submodel(NEW_SM), "colour": "red"}, ("colour",)),
    ("invalid idShort", submodel(NEW_SM, id_short="has space"), ("idShort",)),
    ("idShort ../", submodel(NEW_SM, id_short="../etc"), ("idShort",)),
    (
        "element without valueType",
        submodel(NEW_SM, {"modelType": "Property", "idShort": "P"}),
        ("valueType",),
    ),
    ("element of unknown type", submodel(NEW_SM, {"modelType": "Gadget", "idShort": "G"}), ("Gadget",)),
    ("value not of its valueType", submodel(NEW_SM, prop("P", "abc", "xs:int")), ("submodelElements[0]",)),
    ("duplicate idShorts", submodel(NEW_SM, prop("P", "1"), prop("P", "2")), ("AASd-022", "unique")),
    ("id with a NUL byte", submodel("urn:a\u0000b"), ("id",)),
    ("id longer than 2000 characters", submodel("urn:" + "x" * 3000), ("id", "2000")),
    ("description in no language", {**submodel(NEW_SM), "description": [{"text": "x"}]}, ("language",)),
]


async def test_invalid_submodel_is_refused_with_what_is_wrong_and_where(loaded_client: AppClient) -> None:
    for name, document, fragments in INVALID_SUBMODELS:
        await _assert_refused(loaded_client, "POST", "/submodels", 400, *fragments, label=name, json=document)
        if isinstance(document.get("id"), str) and document["id"]:
            url = submodel_url(document["id"])
            await _assert_refused(loaded_client, "PUT", url, 400, *fragments, label=name, json=document)


OTHER_INVALID_DOCUMENTS: list[tuple[str, Any, tuple[str, ...]]] = [
    ("/shells", {"modelType": "AssetAdministrationShell", "id": "urn:aas:x"}, ("assetInformation",)),
    ("/shells", {**shell("urn:aas:x"), "modelType": "Submodel"}, ("modelType",)),
    ("/concept-descriptions", {"modelType": "ConceptDescription"}, ("id",)),
    (
        "/concept-descriptions",
        {**concept_description("urn:cd:x"), "modelType": "Submodel"},
        ("modelType",),
    ),
    (
        f"{submodel_url(SM_ID)}/submodel-elements",
        {**prop("P", "1"), "modelType": "Submodel"},
        ("modelType",),
    ),
    (f"{submodel_url(SM_ID)}/submodel-elements", {"modelType": "Range", "idShort": "R"}, ("valueType",)),
    (element_url(SM_ID, "Maintenance"), {"modelType": "File", "idShort": "F"}, ("contentType",)),
]


async def test_invalid_documents_of_other_kinds_are_refused(loaded_client: AppClient) -> None:
    for url, document, fragments in OTHER_INVALID_DOCUMENTS:
        await _assert_refused(loaded_client, "POST", url, 400, *fragments, label=str(document), json=document)


@pytest.mark.parametrize(
    ("url", "document"),
    [
        (submodel_url(SM_ID), submodel(NEW_SM)),
        (shell_url(SHELL_ID), shell(NEW_SM)),
        (cd_url(CD_ID), concept_description(NEW_SM)),
    ],
)
async def test_put_with_an_id_that_differs_from_the_path_is_refused(
    loaded_client: AppClient, url: str, document: dict[str, Any]
) -> None:
    await _assert_refused(loaded_client, "PUT", url, 400, NEW_SM, "differs", json=document)


@pytest.mark.parametrize(
    ("url", "document"),
    [
        ("/submodels", submodel(SM_ID)),
        ("/shells", shell(SHELL_ID)),
        ("/concept-descriptions", concept_description(CD_ID)),
    ],
)
async def test_post_of_an_existing_id_is_409(
    loaded_client: AppClient, url: str, document: dict[str, Any]
) -> None:
    await _assert_refused(loaded_client, "POST", url, 409, document["id"], "exists", json=document)


async def test_hostile_identifiers_are_stored_and_found_only_as_themselves(app_client: AppClient) -> None:
    """An id is opaque: `../`, `%`, `/`, quotes and non-ASCII are data, never a path or a query."""
    hostile = ["../../etc/passwd", "a/../b?c=d#e", "%2e%2e%2f", "' OR 1=1 --", "Tür \U0001f600 \t tab"]
    for identifier in hostile:
        response = await app_client.post("/submodels", json=submodel(identifier))
        assert response.status == 201, await response.text()
    for identifier in hostile:
        assert (await get_json(app_client, submodel_url(identifier)))["id"] == identifier
    listed = await get_json(app_client, "/submodels")
    assert [item["id"] for item in listed["result"]] == hostile


# ---------------------------------------------------------------- sizes


async def test_body_over_the_configured_limit_is_413(
    settings: Settings, make_app_client: AppClientFactory
) -> None:
    client = await make_app_client(settings.replace(max_body_bytes=2_000))
    small = submodel(SM_ID, {"modelType": "File", "idShort": "Manual", "contentType": "application/pdf"})
    assert (await client.post("/submodels", json=small)).status == 201
    big = submodel(NEW_SM, prop("Text", "x" * 5_000))
    await _assert_refused(client, "POST", "/submodels", 413, "max_body_bytes", json=big)
    await _assert_refused(
        client, "PUT", submodel_url(SM_ID), 413, "2000", json={**small, "idShort": "x" * 3_000}
    )
    await _assert_refused(
        client, "PATCH", element_url(SM_ID, "Manual/$value"), 413, data=b" " * 3_000, headers=JSON
    )
    attachment = f"{element_url(SM_ID, 'Manual')}/attachment"
    await _assert_refused(
        client, "PUT", attachment, 413, "max_body_bytes", data=upload(b"x" * 5_000, "big.pdf")
    )

    async def chunks() -> Any:
        for _ in range(10):
            yield b" " * 500

    # Without a Content-Length the limit must hold as well.
    await _assert_refused(client, "POST", "/submodels", 413, data=chunks(), headers=JSON)


# ---------------------------------------------------------------- identifiers and idShortPaths in the URL


BAD_SEGMENTS: list[tuple[str, tuple[str, ...]]] = [
    ("not*base64", ("base64url", "'*'")),
    ("YWJj+w", ("base64url", "'+'")),
    ("YWJjZ", ("base64url", "length")),
    ("_w", ("UTF-8",)),
    ("AA", ("control character",)),
    ("YWJj===", ("base64url",)),
]


async def test_identifier_that_is_no_base64url_is_400(loaded_client: AppClient) -> None:
    for segment, fragments in BAD_SEGMENTS:
        for method, url in (
            ("GET", f"/submodels/{segment}"),
            ("GET", f"/shells/{segment}"),
            ("GET", f"/concept-descriptions/{segment}"),
            ("DELETE", f"/submodels/{segment}"),
            ("PATCH", f"/submodels/{segment}/submodel-elements/Speed/$value"),
            ("GET", f"{shell_url(SHELL_ID)}/submodels/{segment}"),
        ):
            kwargs: dict[str, Any] = {"json": 1} if method == "PATCH" else {}
            await _assert_refused(loaded_client, method, url, 400, *fragments, label=segment, **kwargs)
    # The standard alphabet's '/' splits the path: no route matches, a 404 with an IDTA body too.
    await _assert_refused(loaded_client, "GET", "/submodels/YWJj/w", 404)


async def test_padded_base64url_is_accepted(loaded_client: AppClient) -> None:
    padded = b64(SM_ID) + "=" * (-len(b64(SM_ID)) % 4)
    assert padded != b64(SM_ID)
    assert (await get_json(loaded_client, f"/submodels/{padded}"))["id"] == SM_ID


BAD_PATHS: list[tuple[str, int, tuple[str, ...]]] = [
    ("Maintenance..IntervalDays", 400, ("idShortPath", "position")),
    ("Maintenance.", 400, ("idShortPath",)),
    (".Maintenance", 400, ("idShortPath",)),
    ("Maintenance.Records[x]", 400, ("idShortPath",)),
    ("Maintenance.Records[-1]", 400, ("idShortPath",)),
    ("Maintenance.Records[1", 400, ("idShortPath",)),
    ("1Maintenance", 400, ("idShortPath",)),
    ("Maint enance", 400, ("idShortPath",)),
    ("Maintenance.Records[9999999999]", 400, ("digits",)),
    ("a." * 70 + "b", 400, ("64",)),
    ("Maintenance%2E%2E", 400, ("idShortPath",)),
    ("Speed[0]", 400, ("SubmodelElementList",)),
    ("Maintenance.Records.Note", 400, ("index",)),
    ("NoSuchElement", 404, ("NoSuchElement",)),
    ("Maintenance.NoSuchChild", 404, ("NoSuchChild",)),
    ("Maintenance.Records[3]", 404, ("Records[3]", "3 item")),
    ("Speed.Child", 404, ("Child",)),
]


async def test_id_short_path_that_does_not_parse_or_exist_is_refused(loaded_client: AppClient) -> None:
    for path, status, fragments in BAD_PATHS:
        url = element_url(SM_ID, path)
        await _assert_refused(loaded_client, "GET", url, status, *fragments, label=path)
        await _assert_refused(loaded_client, "GET", f"{url}/$value", status, *fragments, label=path)
        await _assert_refused(
            loaded_client, "PATCH", f"{url}/$value", status, *fragments, label=path, json="x"
        )
        await _assert_refused(loaded_client, "DELETE", url, status, *fragments, label=path)
        await _assert_refused(loaded_client, "POST", url, status, label=path, json=prop("Other", "x"))
        if status == 400:
            await _assert_refused(loaded_client, "PUT", url, 400, label=path, json=prop("Other", "x"))


async def test_percent_encoded_id_short_paths_are_understood(loaded_client: AppClient) -> None:
    for path in ("Maintenance.Records%5B2%5D.Note", "Maintenance.Records%255B2%255D.Note"):
        assert (await get_json(loaded_client, element_url(SM_ID, path)))["value"] == "third"


async def test_unknown_identifiers_are_404_naming_them(loaded_client: AppClient) -> None:
    missing = "https://example.com/ids/none"
    for method, url, body in (
        ("GET", submodel_url(missing), None),
        ("GET", shell_url(missing), None),
        ("GET", cd_url(missing), None),
        ("DELETE", submodel_url(missing), None),
        ("PATCH", f"{submodel_url(missing)}/$value", {"Speed": 1}),
        ("POST", f"{submodel_url(missing)}/submodel-elements", prop("P", "1")),
        (
            "PUT",
            f"{shell_url(missing)}/asset-information",
            {"assetKind": "Instance", "globalAssetId": "urn:a"},
        ),
    ):
        await _assert_refused(loaded_client, method, url, 404, missing, json=body)


# ---------------------------------------------------------------- query parameters

BAD_LIST_QUERIES: list[tuple[str, tuple[str, ...]]] = [
    ("level=deeper", ("level", "deeper", "core")),
    ("extent=all", ("extent", "withBlobValue")),
    ("limit=0", ("limit",)),
    ("limit=-5", ("limit",)),
    ("limit=ten", ("limit", "ten")),
    ("limit=1.5", ("limit",)),
    ("cursor=", ("cursor",)),
    ("cursor=!!!", ("cursor",)),
    ("cursor=LTE", ("cursor",)),
]


@pytest.mark.parametrize(
    "url",
    [
        "/submodels",
        f"{submodel_url(SM_ID)}/submodel-elements",
        f"{submodel_url(SM_ID)}/submodel-elements/$value",
    ],
)
async def test_invalid_level_extent_limit_or_cursor_is_400(loaded_client: AppClient, url: str) -> None:
    for query, fragments in BAD_LIST_QUERIES:
        await _assert_refused(loaded_client, "GET", f"{url}?{query}", 400, *fragments)


BAD_QUERIES: list[tuple[str, tuple[str, ...]]] = [
    ("/shells?limit=0", ("limit",)),
    ("/concept-descriptions?cursor=%25%25", ("cursor",)),
    (f"{shell_url(SHELL_ID)}/submodel-refs?limit=x", ("limit",)),
    (f"{submodel_url(SM_ID)}?level=none", ("level",)),
    (f"{element_url(SM_ID, 'Firmware')}?extent=some", ("extent",)),
    (f"{submodel_url(SM_ID)}/submodel-elements?cursor=OTk5", ("cursor",)),
    ("/submodels?semanticId=not*base64", ("base64url",)),
    ("/shells?assetIds=not*base64", ("assetIds", "base64url")),
    (f"/shells?assetIds={b64('not json')}", ("assetIds", "JSON")),
    (f"/shells?assetIds={b64(json.dumps(['a']))}", ("assetIds", "object")),
    (f"/shells?assetIds={b64(json.dumps({'name': 'x'}))}", ("assetIds", "value")),
    ("/serialization?aasIds=not*base64", ("base64url",)),
]


async def test_invalid_query_values_on_other_routes_are_400(loaded_client: AppClient) -> None:
    for url, fragments in BAD_QUERIES:
        await _assert_refused(loaded_client, "GET", url, 400, *fragments)


# ---------------------------------------------------------------- routes and methods


async def test_unknown_route_and_wrong_method_answer_with_an_idta_body(loaded_client: AppClient) -> None:
    await _assert_refused(loaded_client, "GET", "/no/such/route", 404)
    text = await _assert_refused(loaded_client, "PATCH", "/shells", 405, "PATCH")
    assert "GET" in text
    response = await loaded_client.request("TRACE", submodel_url(SM_ID))
    await assert_idta_error(response, 405)
    assert "GET" in response.headers.get("Allow", "")


async def test_request_line_with_legal_parts_beyond_8_kib_gets_an_idta_answer(
    loaded_client: AppClient,
) -> None:
    """Two 2000-character ids and a 64-segment idShortPath are all legal; together they exceed 8 KiB."""
    long_id = "urn:" + "i" * 1996
    path = ".".join(["E" + "e" * 127] * 64)
    url = f"{shell_url(long_id)}/submodels/{b64(long_id)}/submodel-elements/{path}"
    assert len(url) > 8190
    response = await loaded_client.get(url)
    await assert_idta_error(response, 404, long_id[:40])

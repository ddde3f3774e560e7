"""Cursor paging on every list route, and the list filters (`idShort`, `semanticId`, `assetIds`)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest

from tests.support.app import AppClient, AppClientFactory
from titan_core.settings import Settings

from .helpers import (
    assert_idta_error,
    b64,
    b64_json,
    cd_url,
    concept_description,
    created,
    get_json,
    prop,
    shell,
    shell_url,
    submodel,
    submodel_ref,
    submodel_url,
)

COUNT = 7
SM_IDS = [f"https://example.com/ids/sm/{index:02d}" for index in range(COUNT)]
SHELL_IDS = [f"https://example.com/ids/aas/{index:02d}" for index in range(COUNT)]
CD_IDS = [f"https://example.com/ids/cd/{index:02d}" for index in range(COUNT)]
BIG_SM = "https://example.com/ids/sm/big"


async def _walk(client: AppClient, url: str, limit: int) -> list[Any]:
    """Every item of a paged list, page by page; asserts each page's size and the last page's metadata."""
    items: list[Any] = []
    cursor: str | None = None
    separator = "&" if "?" in url else "?"
    for _ in range(1000):
        page_url = f"{url}{separator}limit={limit}" + (f"&cursor={quote(cursor)}" if cursor else "")
        page = await get_json(client, page_url)
        assert set(page) == {"paging_metadata", "result"}, page
        assert len(page["result"]) <= limit
        items.extend(page["result"])
        cursor = page["paging_metadata"].get("cursor")
        if cursor is None:
            assert page["paging_metadata"] == {}
            return items
        assert page["result"], "a page with a cursor must not be empty"
    raise AssertionError(f"{url}: paging did not end")


async def _fill(client: AppClient) -> None:
    for index, identifier in enumerate(SM_IDS):
        semantic = f"urn:semantic:{index % 2}"
        await created(
            client,
            "/submodels",
            submodel(
                identifier, prop(f"P{index}", str(index)), id_short=f"Sm{index % 3}", semantic_id=semantic
            ),
        )
    for index, identifier in enumerate(SHELL_IDS):
        document = shell(
            identifier,
            *SM_IDS[: index + 1],
            global_asset_id=f"urn:asset:{index}",
            specific_asset_ids=(("serialNumber", f"SN-{index % 2}"), ("batch", f"B{index % 3}")),
            id_short=f"Shell{index % 3}",
        )
        await created(client, "/shells", document)
    for index, identifier in enumerate(CD_IDS):
        await created(client, "/concept-descriptions", concept_description(identifier, f"Cd{index % 2}"))
    big = submodel(BIG_SM, *(prop(f"P{index:02d}", str(index), "xs:int") for index in range(COUNT)))
    big["submodelElements"].append(
        {"modelType": "SubmodelElementCollection", "idShort": "Group", "value": [prop("Inner", "x")]}
    )
    await created(client, "/submodels", big)


@pytest.fixture
async def filled_client(app_client: AppClient) -> AppClient:
    await _fill(app_client)
    return app_client


LISTS: list[tuple[str, str]] = [
    ("/shells", "id"),
    ("/shells/$reference", "ref"),
    ("/submodels", "id"),
    ("/submodels/$metadata", "id"),
    ("/submodels/$value", "value"),
    ("/submodels/$reference", "ref"),
    ("/submodels/$path", "path"),
    (f"{submodel_url(BIG_SM)}/submodel-elements", "idShort"),
    (f"{submodel_url(BIG_SM)}/submodel-elements/$metadata", "idShort"),
    (f"{submodel_url(BIG_SM)}/submodel-elements/$value", "value"),
    (f"{submodel_url(BIG_SM)}/submodel-elements/$reference", "ref"),
    (f"{submodel_url(BIG_SM)}/submodel-elements/$path", "path"),
    (f"{shell_url(SHELL_IDS[-1])}/submodels/{b64(BIG_SM)}/submodel-elements", "idShort"),
    (f"{shell_url(SHELL_IDS[-1])}/submodel-refs", "ref"),
    ("/concept-descriptions", "id"),
]


async def test_walking_all_pages_yields_every_item_once_in_a_stable_order(filled_client: AppClient) -> None:
    refs = f"{shell_url(SHELL_IDS[-1])}/submodel-refs"
    assert (await filled_client.post(refs, json=submodel_ref(BIG_SM))).status == 201  # for the superpath
    for url, key in LISTS:
        everything = await get_json(filled_client, f"{url}?limit=10000")
        assert everything["paging_metadata"] == {}, url
        assert len(everything["result"]) >= COUNT, url
        for limit in (1, 2, 3, 100):
            walked = await _walk(filled_client, url, limit)
            assert walked == everything["result"], f"{url} limit={limit}"
        if key in ("id", "idShort"):
            names = [item[key] for item in everything["result"]]
            assert len(set(names)) == len(names), url


async def test_lists_are_in_insertion_order(filled_client: AppClient) -> None:
    assert [item["id"] for item in (await get_json(filled_client, "/submodels"))["result"]] == [
        *SM_IDS,
        BIG_SM,
    ]
    assert [item["id"] for item in (await get_json(filled_client, "/shells"))["result"]] == SHELL_IDS
    assert [
        item["id"] for item in (await get_json(filled_client, "/concept-descriptions"))["result"]
    ] == CD_IDS


async def test_a_cursor_survives_deletes_and_later_inserts_come_last(filled_client: AppClient) -> None:
    first = await get_json(filled_client, "/concept-descriptions?limit=3")
    cursor = first["paging_metadata"]["cursor"]
    # The last item of the first page, and the first of the next one, disappear meanwhile.
    for identifier in (CD_IDS[2], CD_IDS[3]):
        assert (await filled_client.delete(cd_url(identifier))).status == 204
    await created(filled_client, "/concept-descriptions", concept_description("urn:cd:late"))
    rest = await get_json(filled_client, f"/concept-descriptions?limit=100&cursor={quote(cursor)}")
    assert [item["id"] for item in rest["result"]] == [*CD_IDS[4:], "urn:cd:late"]


async def test_default_and_maximum_page_size_come_from_the_settings(
    settings: Settings, make_app_client: AppClientFactory
) -> None:
    client = await make_app_client(settings.replace(default_page_limit=2, max_page_limit=3))
    for identifier in CD_IDS:
        await created(client, "/concept-descriptions", concept_description(identifier))
    default_page = await get_json(client, "/concept-descriptions")
    assert len(default_page["result"]) == 2 and default_page["paging_metadata"]["cursor"]
    capped = await get_json(client, "/concept-descriptions?limit=1000")
    assert len(capped["result"]) == 3 and capped["paging_metadata"]["cursor"]
    assert [item["id"] for item in await _walk(client, "/concept-descriptions", 1000)] == CD_IDS


# ---------------------------------------------------------------- filters


async def _ids(client: AppClient, url: str) -> list[str]:
    return [item["id"] for item in await _walk(client, url, 2)]


async def test_shells_filter_by_id_short(filled_client: AppClient) -> None:
    assert await _ids(filled_client, "/shells?idShort=Shell1") == [SHELL_IDS[1], SHELL_IDS[4]]
    assert await _ids(filled_client, "/shells?idShort=Nothing") == []


ASSET_ID_FILTERS: list[tuple[list[dict[str, Any]], list[int]]] = [
    ([{"name": "globalAssetId", "value": "urn:asset:3"}], [3]),
    ([{"name": "serialNumber", "value": "SN-1"}], [1, 3, 5]),
    ([{"name": "serialNumber", "value": "SN-0"}, {"name": "batch", "value": "B0"}], [0, 6]),
    ([{"name": "serialNumber", "value": "SN-1"}, {"name": "globalAssetId", "value": "urn:asset:5"}], [5]),
    ([{"name": "serialNumber", "value": "SN-9"}], []),
    # The other members of a SpecificAssetId may come along; only name and value count.
    (
        [
            {
                "name": "batch",
                "value": "B2",
                "externalSubjectId": {"type": "ExternalReference", "keys": []},
            }
        ],
        [2, 5],
    ),
]


async def test_shells_filter_by_asset_ids(filled_client: AppClient) -> None:
    for asset_ids, expected in ASSET_ID_FILTERS:
        query = "&".join(f"assetIds={b64_json(asset_id)}" for asset_id in asset_ids)
        assert await _ids(filled_client, f"/shells?{query}") == [SHELL_IDS[i] for i in expected], asset_ids


async def test_asset_id_filter_combines_with_id_short(filled_client: AppClient) -> None:
    query = f"assetIds={b64_json({'name': 'serialNumber', 'value': 'SN-1'})}&idShort=Shell0"
    assert await _ids(filled_client, f"/shells?{query}") == [SHELL_IDS[3]]


async def test_submodels_filter_by_id_short_and_semantic_id(filled_client: AppClient) -> None:
    for modifier in ("", "/$metadata", "/$reference", "/$value"):
        await _check_submodel_filters(filled_client, modifier)


async def _check_submodel_filters(filled_client: AppClient, modifier: str) -> None:
    by_id_short = await _walk(filled_client, f"/submodels{modifier}?idShort=Sm2", 1)
    by_semantic = await _walk(filled_client, f"/submodels{modifier}?semanticId={b64('urn:semantic:1')}", 2)
    both = await _walk(
        filled_client, f"/submodels{modifier}?idShort=Sm0&semanticId={b64('urn:semantic:1')}", 2
    )
    unfiltered = await get_json(filled_client, f"/submodels{modifier}?limit=100")
    by_position = dict(enumerate(unfiltered["result"]))
    assert by_id_short == [by_position[2], by_position[5]]
    assert by_semantic == [by_position[1], by_position[3], by_position[5]]
    assert both == [by_position[3]]


async def test_submodel_paths_filter_by_id_short_and_semantic_id(filled_client: AppClient) -> None:
    """`/submodels/$path` is one flat list of the idShortPaths of the submodels that match."""
    assert await _walk(filled_client, "/submodels/$path?idShort=Sm2", 1) == ["P2", "P5"]
    assert await _walk(filled_client, f"/submodels/$path?semanticId={b64('urn:semantic:1')}", 2) == [
        "P1",
        "P3",
        "P5",
    ]
    both = await _walk(filled_client, f"/submodels/$path?idShort=Sm0&semanticId={b64('urn:semantic:1')}", 2)
    assert both == ["P3"]


async def test_concept_descriptions_filter_by_id_short(filled_client: AppClient) -> None:
    assert await _ids(filled_client, "/concept-descriptions?idShort=Cd1") == CD_IDS[1::2]


async def test_filters_follow_writes(filled_client: AppClient) -> None:
    renamed = submodel(SM_IDS[0], id_short="Renamed", semantic_id="urn:semantic:new")
    assert (await filled_client.put(submodel_url(SM_IDS[0]), json=renamed)).status == 204
    assert await _ids(filled_client, "/submodels?idShort=Renamed") == [SM_IDS[0]]
    assert await _ids(filled_client, f"/submodels?semanticId={b64('urn:semantic:new')}") == [SM_IDS[0]]
    assert SM_IDS[0] not in await _ids(filled_client, "/submodels?idShort=Sm0")
    assert (await filled_client.delete(shell_url(SHELL_IDS[3]))).status == 204
    query = f"assetIds={b64_json({'name': 'globalAssetId', 'value': 'urn:asset:3'})}"
    assert await _ids(filled_client, f"/shells?{query}") == []


async def test_unsupported_concept_description_filters_are_refused(filled_client: AppClient) -> None:
    response = await filled_client.get(f"/concept-descriptions?isCaseOf={b64('urn:x')}")
    await assert_idta_error(response, 400, "isCaseOf")


async def test_submodel_refs_of_a_shell_page_in_order(filled_client: AppClient) -> None:
    refs = await _walk(filled_client, f"{shell_url(SHELL_IDS[-1])}/submodel-refs", 3)
    assert refs == [submodel_ref(identifier) for identifier in SM_IDS]

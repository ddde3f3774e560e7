"""The AAS Registry and Submodel Registry over HTTP, on SQLite and on PostgreSQL: register, find,
read, replace and delete descriptors; ETags and If-Match; cursor paging; the filters of
`GET /shell-descriptors`; the submodel descriptors inside an AAS descriptor; the IDTA error body."""

from __future__ import annotations

from typing import Any

import pytest
from registry_testing import b64, messages, shell_descriptor, submodel_descriptor

from titan_core.testing import AppClient

SHELL = "https://plant.example/aas/pump-4711"
SUBMODEL = "https://plant.example/sm/nameplate-4711"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)])
def titan_database_url(request: pytest.FixtureRequest, tmp_path: Any) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path}/titan.sqlite3"
    url: str = request.getfixturevalue("postgres_database_url")
    return url


async def test_an_aas_descriptor_is_registered_read_replaced_and_deleted(registry_client: AppClient) -> None:
    descriptor = shell_descriptor(SHELL, global_asset_id="urn:asset:pump-4711")

    created = await registry_client.post("/shell-descriptors", json=descriptor)
    read = await registry_client.get(f"/shell-descriptors/{b64(SHELL)}")
    changed = {**descriptor, "idShort": "Pump4711"}
    replaced = await registry_client.put(
        f"/shell-descriptors/{b64(SHELL)}", json=changed, headers={"If-Match": created.headers["ETag"]}
    )
    read_again = await registry_client.get(f"/shell-descriptors/{b64(SHELL)}")
    deleted = await registry_client.delete(
        f"/shell-descriptors/{b64(SHELL)}", headers={"If-Match": replaced.headers["ETag"]}
    )
    gone = await registry_client.get(f"/shell-descriptors/{b64(SHELL)}")

    assert created.status == 201, await created.text()
    assert created.headers["Location"] == f"/shell-descriptors/{b64(SHELL)}"
    assert await created.json() == descriptor
    assert (read.status, await read.json(), read.headers["ETag"]) == (
        200,
        descriptor,
        created.headers["ETag"],
    )
    assert replaced.status == 204 and replaced.headers["ETag"] != created.headers["ETag"]
    assert await read_again.json() == changed and read_again.headers["ETag"] == replaced.headers["ETag"]
    assert deleted.status == 204
    assert gone.status == 404
    assert await messages(gone) == [f"no AAS descriptor with id {SHELL!r} is registered"]


async def test_if_match_with_an_old_etag_changes_nothing(registry_client: AppClient) -> None:
    created = await registry_client.post("/shell-descriptors", json=shell_descriptor(SHELL))
    await registry_client.put(
        f"/shell-descriptors/{b64(SHELL)}", json=shell_descriptor(SHELL, asset_kind="Type")
    )
    old = {"If-Match": created.headers["ETag"]}

    put = await registry_client.put(
        f"/shell-descriptors/{b64(SHELL)}", json=shell_descriptor(SHELL), headers=old
    )
    delete = await registry_client.delete(f"/shell-descriptors/{b64(SHELL)}", headers=old)
    nested = await registry_client.post(
        f"/shell-descriptors/{b64(SHELL)}/submodel-descriptors", json=submodel_descriptor(SUBMODEL)
    )
    nested_delete = await registry_client.delete(
        f"/shell-descriptors/{b64(SHELL)}/submodel-descriptors/{b64(SUBMODEL)}", headers=old
    )
    current = await (await registry_client.get(f"/shell-descriptors/{b64(SHELL)}")).json()

    assert (put.status, delete.status, nested.status, nested_delete.status) == (412, 412, 201, 412)
    assert "was changed by someone else" in (await messages(put))[0]
    assert current["assetKind"] == "Type" and len(current["submodelDescriptors"]) == 1


async def test_put_registers_a_new_descriptor_and_refuses_another_id(registry_client: AppClient) -> None:
    created = await registry_client.put(f"/shell-descriptors/{b64(SHELL)}", json=shell_descriptor(SHELL))
    renamed = await registry_client.put(
        f"/shell-descriptors/{b64(SHELL)}", json=shell_descriptor("https://plant.example/aas/other")
    )
    twice = await registry_client.post("/shell-descriptors", json=shell_descriptor(SHELL))

    assert created.status == 201 and created.headers["Location"] == f"/shell-descriptors/{b64(SHELL)}"
    assert renamed.status == 400
    assert "is not the one in the path" in (await messages(renamed))[0]
    assert twice.status == 409
    assert await messages(twice) == [
        f"the AAS descriptor {SHELL!r} is already registered: PUT it to replace it, or DELETE it first"
    ]


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"idShort": "Pump"}, '"id" is a required property'),
        ({"id": ""}, "id: "),
        ({"id": SHELL, "idShort": "1pump"}, "idShort: "),
        ({"id": SHELL, "assetKind": "Sometimes"}, "assetKind: "),
        ({"id": SHELL, "endpoints": [{"interface": "AAS-3.0", "protocolInformation": {}}]},
         "endpoints[0].protocolInformation"),
        ({"id": SHELL, "endpoints": []}, "endpoints: "),
        ({"id": SHELL, "submodelDescriptors": [{"id": SUBMODEL}]}, "submodelDescriptors[0]"),
        ([], "must be a JSON object"),
    ],
)  # fmt: skip
async def test_a_descriptor_breaking_the_schema_is_refused_with_what_is_wrong(
    registry_client: AppClient, body: Any, says: str
) -> None:
    response = await registry_client.post("/shell-descriptors", json=body)
    listed = await (await registry_client.get("/shell-descriptors")).json()

    assert response.status == 400
    assert says in (await messages(response))[0]
    assert listed["result"] == []


async def test_cursor_paging_visits_every_descriptor_once_in_registration_order(
    registry_client: AppClient,
) -> None:
    identifiers = [f"https://plant.example/aas/{number}" for number in range(7)]
    # Text beyond ASCII comes back as it was stored (PostgreSQL joins a page's texts as UTF-8).
    described = {"description": [{"language": "de", "text": "Kühlwasserpumpe, 20 m³/h — 東京"}]}
    for identifier in identifiers:
        assert (
            await registry_client.post("/shell-descriptors", json=shell_descriptor(identifier) | described)
        ).status == 201
    await registry_client.delete(f"/shell-descriptors/{b64(identifiers[3])}")

    seen: list[str] = []
    pages: list[int] = []
    cursor: str | None = None
    while True:
        params = {"limit": "2"} | ({"cursor": cursor} if cursor else {})
        response = await registry_client.get("/shell-descriptors", params=params)
        assert response.status == 200, await response.text()
        page = await response.json()
        pages.append(len(page["result"]))
        seen += [item["id"] for item in page["result"]]
        assert all(item["description"] == described["description"] for item in page["result"])
        cursor = page["paging_metadata"].get("cursor")
        if cursor is None:
            break

    assert seen == identifiers[:3] + identifiers[4:]
    assert pages == [2, 2, 2]


@pytest.mark.parametrize(
    "query", [{"limit": "0"}, {"limit": "many"}, {"cursor": "not-a-cursor"}, {"assetKind": "Sometimes"},
              {"assetType": "!!"}],
)  # fmt: skip
async def test_bad_paging_and_filter_parameters_are_refused(
    registry_client: AppClient, query: dict[str, str]
) -> None:
    response = await registry_client.get("/shell-descriptors", params=query)

    assert response.status == 400
    assert await messages(response)


async def test_aas_descriptors_are_filtered_by_asset_kind_and_asset_type(registry_client: AppClient) -> None:
    pump_type = "https://plant.example/types/pump"
    registered = [
        shell_descriptor("https://plant.example/aas/1", asset_kind="Instance", asset_type=pump_type),
        shell_descriptor("https://plant.example/aas/2", asset_kind="Type", asset_type=pump_type),
        shell_descriptor("https://plant.example/aas/3", asset_kind="Instance"),
    ]
    for descriptor in registered:
        await registry_client.post("/shell-descriptors", json=descriptor)

    async def ids(params: dict[str, str]) -> list[str]:
        response = await registry_client.get("/shell-descriptors", params=params)
        assert response.status == 200, await response.text()
        return [item["id"] for item in (await response.json())["result"]]

    assert await ids({"assetKind": "Instance"}) == [
        "https://plant.example/aas/1",
        "https://plant.example/aas/3",
    ]
    assert await ids({"assetType": b64(pump_type)}) == [
        "https://plant.example/aas/1",
        "https://plant.example/aas/2",
    ]
    assert await ids({"assetKind": "Type", "assetType": b64(pump_type)}) == ["https://plant.example/aas/2"]
    assert await ids({"assetKind": "Role"}) == []


async def test_submodel_descriptors_inside_an_aas_descriptor(registry_client: AppClient) -> None:
    await registry_client.post("/shell-descriptors", json=shell_descriptor(SHELL))
    nested = f"/shell-descriptors/{b64(SHELL)}/submodel-descriptors"
    second = "https://plant.example/sm/operation-4711"

    added = await registry_client.post(nested, json=submodel_descriptor(SUBMODEL))
    again = await registry_client.post(nested, json=submodel_descriptor(SUBMODEL))
    put_new = await registry_client.put(f"{nested}/{b64(second)}", json=submodel_descriptor(second))
    replaced = await registry_client.put(
        f"{nested}/{b64(SUBMODEL)}", json=submodel_descriptor(SUBMODEL, semantic_id="urn:nameplate")
    )
    one = await registry_client.get(f"{nested}/{b64(SUBMODEL)}")
    first_page = await registry_client.get(nested, params={"limit": "1"})
    first = await first_page.json()
    second_page = await (
        await registry_client.get(nested, params={"limit": "1", "cursor": first["paging_metadata"]["cursor"]})
    ).json()
    removed = await registry_client.delete(f"{nested}/{b64(second)}")
    missing = await registry_client.get(f"{nested}/{b64(second)}")
    shell = await registry_client.get(f"/shell-descriptors/{b64(SHELL)}")
    no_shell = await registry_client.post(
        f"/shell-descriptors/{b64('https://plant.example/aas/none')}/submodel-descriptors",
        json=submodel_descriptor(SUBMODEL),
    )

    assert added.status == 201 and added.headers["Location"] == f"{nested}/{b64(SUBMODEL)}"
    assert again.status == 409
    assert put_new.status == 201
    assert replaced.status == 204
    assert await one.json() == submodel_descriptor(SUBMODEL, semantic_id="urn:nameplate")
    assert one.headers["ETag"] == replaced.headers["ETag"]
    assert [item["id"] for item in first["result"]] == [SUBMODEL]
    assert [item["id"] for item in second_page["result"]] == [second]
    assert "cursor" not in second_page["paging_metadata"]
    assert removed.status == 204
    assert missing.status == 404
    assert [item["id"] for item in (await shell.json())["submodelDescriptors"]] == [SUBMODEL]
    assert shell.headers["ETag"] != replaced.headers["ETag"]
    assert no_shell.status == 404


async def test_the_submodel_registry_registers_reads_pages_and_deletes(registry_client: AppClient) -> None:
    identifiers = [f"https://plant.example/sm/{number}" for number in range(3)]
    for identifier in identifiers:
        created = await registry_client.post("/submodel-descriptors", json=submodel_descriptor(identifier))
        assert created.status == 201, await created.text()

    page = await (await registry_client.get("/submodel-descriptors", params={"limit": "2"})).json()
    read = await registry_client.get(f"/submodel-descriptors/{b64(identifiers[0])}")
    replaced = await registry_client.put(
        f"/submodel-descriptors/{b64(identifiers[0])}",
        json=submodel_descriptor(identifiers[0], semantic_id="urn:x"),
        headers={"If-Match": read.headers["ETag"]},
    )
    deleted = await registry_client.delete(f"/submodel-descriptors/{b64(identifiers[1])}")
    refused = await registry_client.post("/submodel-descriptors", json={"id": "https://plant.example/sm/x"})
    rest = await (await registry_client.get("/submodel-descriptors")).json()

    assert [item["id"] for item in page["result"]] == identifiers[:2] and page["paging_metadata"]["cursor"]
    assert await read.json() == submodel_descriptor(identifiers[0])
    assert replaced.status == 204
    assert deleted.status == 204
    assert refused.status == 400 and '"endpoints" is a required property' in (await messages(refused))[0]
    assert [item["id"] for item in rest["result"]] == [identifiers[0], identifiers[2]]
    assert rest["result"][0]["semanticId"]["keys"][0]["value"] == "urn:x"


async def test_the_registries_answer_under_the_api_prefix_too(registry_client: AppClient) -> None:
    created = await registry_client.post("/api/v3.0/shell-descriptors", json=shell_descriptor(SHELL))
    read = await registry_client.get(f"/shell-descriptors/{b64(SHELL)}")
    submodels = await registry_client.get("/api/v3.0/submodel-descriptors")

    assert created.status == 201
    assert created.headers["Location"] == f"/api/v3.0/shell-descriptors/{b64(SHELL)}"
    assert read.status == 200
    assert submodels.status == 200

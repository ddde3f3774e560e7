"""The AASX File Server profile: /packages list (aasId filter, paging), get, post, put, delete."""

from __future__ import annotations

import io
import os
from typing import cast

import pytest
from aiohttp import BodyPartReader, FormData

from tests.api.helpers import assert_idta_error, b64, get_json, shell, submodel
from tests.support.app import AppClient, AppClientFactory
from titan_core.api.packages import _copy_part
from titan_core.errors import PayloadTooLarge
from titan_core.exchange.aasx import read_aasx
from titan_core.settings import Settings

from .packages import XXE, build_zip, package, package_entries

SHELL_A, SHELL_B, SM_ID = "urn:test:shell:a", "urn:test:shell:b", "urn:test:sm:1"


def environment(shell_id: str) -> dict[str, object]:
    return {"assetAdministrationShells": [shell(shell_id, SM_ID)], "submodels": [submodel(SM_ID)]}


def form(data: bytes, file_name: str = "pump.aasx", aas_ids: list[str] | None = None) -> FormData:
    body = FormData()
    body.add_field(
        "file", data, filename=file_name, content_type="application/asset-administration-shell-package"
    )
    body.add_field("fileName", file_name)
    for aas_id in aas_ids or ():
        body.add_field("aasIds", aas_id)
    return body


async def test_a_posted_package_is_kept_as_uploaded_and_its_twins_are_imported(app_client: AppClient) -> None:
    data = package(environment(SHELL_A))
    response = await app_client.post("/packages", data=form(data, aas_ids=[SHELL_A]))
    assert response.status == 201, await response.text()
    description = await response.json()
    assert description["aasIds"] == [SHELL_A]
    location = response.headers["Location"]
    assert location == f"/packages/{b64(description['packageId'])}"

    stored = await app_client.get(location)
    assert stored.status == 200
    assert stored.content_type == "application/asset-administration-shell-package"
    assert stored.headers["X-FileName"] == "pump.aasx"
    assert await stored.read() == data  # byte for byte
    assert (await get_json(app_client, f"/shells/{b64(SHELL_A)}"))["id"] == SHELL_A
    assert (await get_json(app_client, f"/submodels/{b64(SM_ID)}"))["id"] == SM_ID


async def test_the_list_filters_by_aas_id_and_pages_with_a_cursor(app_client: AppClient) -> None:
    for shell_id in (SHELL_A, SHELL_B, SHELL_A):
        assert (await app_client.post("/packages", data=form(package(environment(shell_id))))).status == 201
    everything = await get_json(app_client, "/packages")
    assert [item["aasIds"] for item in everything["result"]] == [[SHELL_A], [SHELL_B], [SHELL_A]]
    only_a = await get_json(app_client, f"/packages?aasId={b64(SHELL_A)}")
    assert [item["aasIds"] for item in only_a["result"]] == [[SHELL_A], [SHELL_A]]
    first = await get_json(app_client, "/packages?limit=2")
    assert len(first["result"]) == 2 and first["paging_metadata"]["cursor"]
    rest = await get_json(app_client, f"/packages?limit=2&cursor={first['paging_metadata']['cursor']}")
    assert [item["packageId"] for item in first["result"] + rest["result"]] == [
        item["packageId"] for item in everything["result"]
    ]
    assert "cursor" not in rest["paging_metadata"]


async def test_put_replaces_the_package_and_updates_its_twins(app_client: AppClient) -> None:
    created = await app_client.put(f"/packages/{b64('my-package')}", data=form(package(environment(SHELL_A))))
    assert created.status == 201, await created.text()
    assert (await created.json())["packageId"] == "my-package"
    new = environment(SHELL_A)
    new["submodels"][0]["idShort"] = "Renamed"  # type: ignore[index]
    replaced = await app_client.put(f"/packages/{b64('my-package')}", data=form(package(new), "v2.aasx"))
    assert replaced.status == 204, await replaced.text()
    stored = await app_client.get(f"/packages/{b64('my-package')}")
    assert stored.headers["X-FileName"] == "v2.aasx"
    assert (
        read_aasx(io.BytesIO(await stored.read()), "v2").environment["submodels"][0]["idShort"] == "Renamed"
    )
    assert (await get_json(app_client, f"/submodels/{b64(SM_ID)}"))["idShort"] == "Renamed"


async def test_delete_removes_the_package_and_keeps_the_twins(app_client: AppClient) -> None:
    response = await app_client.post("/packages", data=form(package(environment(SHELL_A))))
    location = response.headers["Location"]
    assert (await app_client.delete(location)).status == 204
    await assert_idta_error(await app_client.get(location), 404, "not found")
    await assert_idta_error(await app_client.delete(location), 404, "not found")
    assert (await get_json(app_client, f"/shells/{b64(SHELL_A)}"))["id"] == SHELL_A


async def test_a_hostile_or_invalid_package_is_refused_and_nothing_is_stored(app_client: AppClient) -> None:
    invalid = {"submodels": [{"modelType": "Submodel", "id": SM_ID, "idShort": "not valid!"}]}
    for data, fragment in (
        (build_zip(package_entries(XXE)), "xml-no-dtd"),
        (package(invalid), "submodels[0].idShort"),
        (b"not a zip", "zip-structure"),
    ):
        response = await app_client.post("/packages", data=form(data, "bad.aasx"))
        text = await assert_idta_error(response, 400, fragment)
        assert "bad.aasx" in text
    assert (await get_json(app_client, "/packages"))["result"] == []
    assert (await get_json(app_client, "/submodels"))["result"] == []


async def test_aas_ids_the_package_does_not_hold_are_refused(app_client: AppClient) -> None:
    response = await app_client.post("/packages", data=form(package(environment(SHELL_A)), aas_ids=[SHELL_B]))
    await assert_idta_error(response, 400, SHELL_B)
    assert (await get_json(app_client, "/packages"))["result"] == []


async def test_a_body_that_is_not_multipart_is_415(app_client: AppClient) -> None:
    response = await app_client.post("/packages", data=package(environment(SHELL_A)))
    await assert_idta_error(response, 415, "multipart/form-data")


async def test_a_package_over_max_body_bytes_is_413_naming_the_limit_and_nothing_is_stored(
    make_app_client: AppClientFactory, settings: Settings
) -> None:
    limit = 64 * 1024
    client = await make_app_client(settings.replace(max_body_bytes=limit))
    # Incompressible content, so the package itself (not only what it unpacks to) passes the limit.
    data = package(environment(SHELL_A), ("aasx/files/noise.bin", os.urandom(limit)))
    response = await client.post("/packages", data=form(data))
    await assert_idta_error(response, 413, f"{limit} bytes this server accepts (setting max_body_bytes)")
    assert (await get_json(client, "/packages"))["result"] == []
    assert (await get_json(client, "/shells"))["result"] == []


class _Part:
    """What `_copy_part` reads of aiohttp's BodyPartReader: chunks until an empty one."""

    def __init__(self, chunks: list[bytes]) -> None:
        self._chunks = chunks

    async def read_chunk(self, size: int) -> bytes:
        return self._chunks.pop(0)[:size] if self._chunks else b""


async def test_an_upload_is_streamed_to_the_file_and_refused_once_it_passes_the_limit() -> None:
    upload = io.BytesIO()
    await _copy_part(cast(BodyPartReader, _Part([b"a" * 10, b"b" * 10])), upload, 20)
    assert upload.getvalue() == b"a" * 10 + b"b" * 10

    upload = io.BytesIO()
    with pytest.raises(PayloadTooLarge, match=r"larger than the 15 bytes .*max_body_bytes"):
        await _copy_part(cast(BodyPartReader, _Part([b"a" * 10, b"b" * 10, b"c" * 10])), upload, 15)
    assert upload.getvalue() == b"a" * 10  # nothing past the limit was written


async def test_a_package_larger_than_the_in_memory_spool_is_stored_byte_for_byte(
    app_client: AppClient,
) -> None:
    # Over _SPOOL_BYTES: the upload goes through a temporary file on disk.
    data = package(environment(SHELL_A), ("aasx/files/noise.bin", os.urandom(3 * 1024 * 1024)))
    response = await app_client.post("/packages", data=form(data))
    assert response.status == 201, await response.text()
    stored = await app_client.get(response.headers["Location"])
    assert await stored.read() == data
    assert (await get_json(app_client, f"/shells/{b64(SHELL_A)}"))["id"] == SHELL_A

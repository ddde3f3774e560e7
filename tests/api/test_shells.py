"""AAS Repository writes end to end: shells, asset information, thumbnails, submodel references."""

from __future__ import annotations

from aiohttp import FormData

from tests.support.app import AppClient, AppClientFactory
from titan_core.settings import Settings

from .helpers import (
    ASSET_ID,
    SHELL_ID,
    SM_ID,
    assert_idta_error,
    assert_refused_or_still_valid,
    assert_uploaded,
    b64,
    b64_json,
    created,
    external_ref,
    get_json,
    model_ref,
    shell,
    shell_url,
    snapshot,
    submodel_ref,
    upload,
)

OTHER_SHELL = "https://example.com/ids/aas/other"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256))


async def test_posted_shell_is_returned_by_get_and_listed(app_client: AppClient) -> None:
    document = shell(SHELL_ID, SM_ID, id_short="Pump")
    response = await app_client.post("/shells", json=document)
    assert response.status == 201, await response.text()
    assert response.headers.get("ETag")
    assert await response.json() == document

    assert await get_json(app_client, shell_url(SHELL_ID)) == document
    listed = await get_json(app_client, "/shells")
    assert listed["result"] == [document]
    assert await get_json(app_client, f"{shell_url(SHELL_ID)}/$reference") == {
        "type": "ModelReference",
        "keys": [{"type": "AssetAdministrationShell", "value": SHELL_ID}],
    }
    references = await get_json(app_client, "/shells/$reference")
    assert references["result"] == [await get_json(app_client, f"{shell_url(SHELL_ID)}/$reference")]


async def test_put_of_an_unknown_shell_creates_it_with_201(app_client: AppClient) -> None:
    document = shell(SHELL_ID, id_short="Pump")
    response = await app_client.put(shell_url(SHELL_ID), json=document)
    assert response.status == 201, await response.text()
    assert await response.json() == document
    assert await get_json(app_client, shell_url(SHELL_ID)) == document


async def test_put_of_an_existing_shell_replaces_it_with_204(app_client: AppClient) -> None:
    await created(app_client, "/shells", shell(SHELL_ID, SM_ID, id_short="Pump"))
    replacement = shell(SHELL_ID, id_short="Renamed", global_asset_id="https://example.com/ids/asset/new")
    response = await app_client.put(shell_url(SHELL_ID), json=replacement)
    assert response.status == 204, await response.text()
    # Nothing of the old shell survives a replacement, its submodel references included.
    assert await get_json(app_client, shell_url(SHELL_ID)) == replacement


async def test_deleted_shell_is_gone(app_client: AppClient) -> None:
    await created(app_client, "/shells", shell(SHELL_ID))
    await created(app_client, "/shells", shell(OTHER_SHELL))
    response = await app_client.delete(shell_url(SHELL_ID))
    assert response.status == 204, await response.text()
    await assert_idta_error(await app_client.get(shell_url(SHELL_ID)), 404, SHELL_ID)
    assert [item["id"] for item in (await get_json(app_client, "/shells"))["result"]] == [OTHER_SHELL]
    await assert_idta_error(await app_client.delete(shell_url(SHELL_ID)), 404, SHELL_ID)


async def test_shell_id_can_be_reused_after_delete(app_client: AppClient) -> None:
    first = await app_client.post("/shells", json=shell(SHELL_ID))
    assert (await app_client.delete(shell_url(SHELL_ID))).status == 204
    second = await app_client.post("/shells", json=shell(SHELL_ID, id_short="Again"))
    assert second.status == 201, await second.text()
    # A re-created shell must not carry the ETag of its deleted namesake.
    assert second.headers["ETag"] != first.headers["ETag"]


async def test_asset_information_put_replaces_it_and_the_asset_id_filter_follows(
    app_client: AppClient,
) -> None:
    await created(app_client, "/shells", shell(SHELL_ID))
    information = {
        "assetKind": "Type",
        "globalAssetId": "https://example.com/ids/asset/new_type",
        "specificAssetIds": [{"name": "serialNumber", "value": "SN-1"}],
    }
    response = await app_client.put(f"{shell_url(SHELL_ID)}/asset-information", json=information)
    assert response.status == 204, await response.text()
    assert await get_json(app_client, f"{shell_url(SHELL_ID)}/asset-information") == information
    assert (await get_json(app_client, shell_url(SHELL_ID)))["assetInformation"] == information

    by_new = await get_json(
        app_client, f"/shells?assetIds={b64_json({'name': 'serialNumber', 'value': 'SN-1'})}"
    )
    assert [item["id"] for item in by_new["result"]] == [SHELL_ID]
    by_old = await get_json(
        app_client, f"/shells?assetIds={b64_json({'name': 'globalAssetId', 'value': ASSET_ID})}"
    )
    assert by_old["result"] == []


async def test_invalid_asset_information_is_refused(app_client: AppClient) -> None:
    await created(app_client, "/shells", shell(SHELL_ID))
    before = await snapshot(app_client)
    response = await app_client.put(
        f"{shell_url(SHELL_ID)}/asset-information", json={"assetKind": "Sometimes"}
    )
    await assert_idta_error(response, 400, "assetKind")
    assert await snapshot(app_client) == before


async def test_thumbnail_upload_download_and_delete(app_client: AppClient) -> None:
    await created(app_client, "/shells", shell(SHELL_ID))
    thumbnail = f"{shell_url(SHELL_ID)}/asset-information/thumbnail"
    await assert_idta_error(await app_client.get(thumbnail), 404)

    download = await assert_uploaded(app_client, thumbnail, PNG, "pump.png", "image/png")
    assert "pump.png" in download.headers.get("Content-Disposition", "")
    information = await get_json(app_client, f"{shell_url(SHELL_ID)}/asset-information")
    assert information["defaultThumbnail"] == {"path": "pump.png", "contentType": "image/png"}

    replaced = await app_client.put(thumbnail, data=upload(b"GIF89a", "pump.gif", "image/gif"))
    assert replaced.status == 204, await replaced.text()
    assert await (await app_client.get(thumbnail)).read() == b"GIF89a"

    deleted = await app_client.delete(thumbnail)
    assert deleted.status in (200, 204), await deleted.text()
    await assert_idta_error(await app_client.get(thumbnail), 404)
    information = await get_json(app_client, f"{shell_url(SHELL_ID)}/asset-information")
    assert "defaultThumbnail" not in information
    await assert_idta_error(await app_client.delete(thumbnail), 404)


async def test_thumbnail_upload_without_file_part_is_refused(app_client: AppClient) -> None:
    await created(app_client, "/shells", shell(SHELL_ID))
    before = await snapshot(app_client)
    thumbnail = f"{shell_url(SHELL_ID)}/asset-information/thumbnail"

    form = FormData()
    form.add_field("fileName", "pump.png", content_type="text/plain")
    await assert_idta_error(await app_client.put(thumbnail, data=form), 400, "file")
    not_multipart = await app_client.put(thumbnail, data=PNG, headers={"Content-Type": "image/png"})
    await assert_idta_error(not_multipart, 415, "multipart/form-data")
    assert await snapshot(app_client) == before


async def test_thumbnail_of_unknown_shell_is_404(app_client: AppClient) -> None:
    thumbnail = f"{shell_url(SHELL_ID)}/asset-information/thumbnail"
    await assert_idta_error(await app_client.put(thumbnail, data=upload(PNG, "x.png")), 404, SHELL_ID)
    await assert_idta_error(await app_client.get(thumbnail), 404, SHELL_ID)


async def test_submodel_reference_add_duplicate_and_remove(app_client: AppClient) -> None:
    await created(app_client, "/shells", shell(SHELL_ID, SM_ID))
    refs = f"{shell_url(SHELL_ID)}/submodel-refs"
    other = "https://example.com/ids/sm/other"

    response = await app_client.post(refs, json=submodel_ref(other))
    assert response.status == 201, await response.text()
    assert await response.json() == submodel_ref(other)
    listed = await get_json(app_client, refs)
    assert listed["result"] == [submodel_ref(SM_ID), submodel_ref(other)]

    before = await snapshot(app_client)
    await assert_idta_error(await app_client.post(refs, json=submodel_ref(other)), 409, other)
    assert await snapshot(app_client) == before

    removed = await app_client.delete(f"{refs}/{b64(SM_ID)}")
    assert removed.status == 204, await removed.text()
    assert (await get_json(app_client, refs))["result"] == [submodel_ref(other)]
    await assert_idta_error(await app_client.delete(f"{refs}/{b64(SM_ID)}"), 404, SM_ID)

    assert (await app_client.delete(f"{refs}/{b64(other)}")).status == 204
    assert (await get_json(app_client, refs))["result"] == []
    # The meta-model wants `submodels` absent rather than empty.
    assert "submodels" not in await get_json(app_client, shell_url(SHELL_ID))


async def test_invalid_submodel_reference_is_refused(app_client: AppClient) -> None:
    await created(app_client, "/shells", shell(SHELL_ID))
    before = await snapshot(app_client)
    response = await app_client.post(f"{shell_url(SHELL_ID)}/submodel-refs", json={"type": "ModelReference"})
    await assert_idta_error(response, 400, "keys")
    assert await snapshot(app_client) == before


async def test_alias_prefix_serves_the_same_api(app_client: AppClient) -> None:
    document = shell(SHELL_ID, id_short="Pump")
    response = await app_client.post("/api/v3.0/shells", json=document)
    assert response.status == 201, await response.text()
    assert await get_json(app_client, shell_url(SHELL_ID)) == document
    assert await get_json(app_client, f"/api/v3.0{shell_url(SHELL_ID)}") == document
    assert (await app_client.delete(f"/api/v3.0{shell_url(SHELL_ID)}")).status == 204
    await assert_idta_error(await app_client.get(shell_url(SHELL_ID)), 404)
    await assert_idta_error(await app_client.get("/api/v3.0/no-such-route"), 404)


async def test_alias_prefix_is_configurable_and_can_be_switched_off(
    settings: Settings, make_app_client: AppClientFactory
) -> None:
    custom = await make_app_client(settings.replace(api_prefix="/custom/aas"))
    assert (await custom.get("/custom/aas/shells")).status == 200
    await assert_idta_error(await custom.get("/api/v3.0/shells"), 404)

    without = await make_app_client(settings.replace(api_prefix=""))
    assert (await without.get("/shells")).status == 200
    await assert_idta_error(await without.get("/api/v3.0/shells"), 404)


async def test_replacing_the_asset_information_without_thumbnail_drops_the_thumbnail(
    app_client: AppClient,
) -> None:
    await created(app_client, "/shells", shell(SHELL_ID))
    thumbnail = f"{shell_url(SHELL_ID)}/asset-information/thumbnail"
    for replace_url, document in (
        (shell_url(SHELL_ID), shell(SHELL_ID)),
        (f"{shell_url(SHELL_ID)}/asset-information", shell(SHELL_ID)["assetInformation"]),
    ):
        assert (await app_client.put(thumbnail, data=upload(PNG, "pump.png", "image/png"))).status == 204
        assert (await app_client.put(replace_url, json=document)).status == 204
        assert "defaultThumbnail" not in await get_json(
            app_client, f"{shell_url(SHELL_ID)}/asset-information"
        )
        await assert_idta_error(await app_client.get(thumbnail), 404)


async def test_thumbnail_upload_never_makes_the_shell_invalid(app_client: AppClient) -> None:
    await created(app_client, "/shells", shell(SHELL_ID))
    thumbnail = f"{shell_url(SHELL_ID)}/asset-information/thumbnail"
    for file_name, content_type in (("Prüf €.png", "image/png"), ("plain.png", "not a media type")):
        response = await app_client.put(thumbnail, data=upload(PNG, file_name, content_type))
        await assert_refused_or_still_valid(
            app_client, response, shell_url(SHELL_ID), f"upload {file_name!r} {content_type!r}"
        )


async def test_submodel_reference_that_is_no_model_reference_to_a_submodel_is_refused(
    app_client: AppClient,
) -> None:
    await created(app_client, "/shells", shell(SHELL_ID, SM_ID))
    refs = f"{shell_url(SHELL_ID)}/submodel-refs"
    for reference in (
        external_ref("https://example.com/ids/sm/x"),
        model_ref(("ConceptDescription", "https://example.com/ids/cd/x")),
        model_ref(("Submodel", "https://example.com/ids/sm/x"), ("Property", "P")),
    ):
        before = await snapshot(app_client)
        response = await app_client.post(refs, json=reference)
        assert response.status == 400, f"{reference}: {response.status} {await response.text()}"
        await assert_idta_error(response, 400, "Submodel")
        assert await snapshot(app_client) == before

"""One ETag per identifiable: every GET beneath it returns it, every write changes it, If-Match guards writes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import ClientResponse

from tests.support.app import AppClient

from .helpers import (
    CD_ID,
    SHELL_ID,
    SM_ID,
    assert_idta_error,
    b64,
    cd_url,
    collection,
    concept_description,
    created,
    element_url,
    etag_of,
    every_element_submodel,
    prop,
    shell,
    shell_url,
    snapshot,
    submodel,
    submodel_ref,
    submodel_url,
    upload,
)

SUPER = f"{shell_url(SHELL_ID)}/submodels/{b64(SM_ID)}"

SUBMODEL_READS = [
    "",
    "?level=core",
    "?extent=withBlobValue",
    "/$metadata",
    "/$value",
    "/$reference",
    "/$path",
    "/submodel-elements",
    "/submodel-elements/$metadata",
    "/submodel-elements/$value",
    "/submodel-elements/$reference",
    "/submodel-elements/$path",
    "/submodel-elements/Maintenance.Records[2].Note",
    "/submodel-elements/Maintenance/$metadata",
    "/submodel-elements/Maintenance/$value",
    "/submodel-elements/Maintenance.Records[1]/$reference",
    "/submodel-elements/Maintenance/$path",
    "/submodel-elements/Manual/attachment",
]
SHELL_READS = ["", "/$reference", "/asset-information", "/asset-information/thumbnail", "/submodel-refs"]


async def _with_attachments(client: AppClient) -> None:
    attachment = f"{element_url(SM_ID, 'Manual')}/attachment"
    assert (await client.put(attachment, data=upload(b"%PDF", "manual.pdf", "application/pdf"))).status == 204
    thumbnail = f"{shell_url(SHELL_ID)}/asset-information/thumbnail"
    assert (await client.put(thumbnail, data=upload(b"png", "t.png", "image/png"))).status == 204


async def _etags(client: AppClient, urls: list[str]) -> dict[str, str | None]:
    tags: dict[str, str | None] = {}
    for url in urls:
        response = await client.get(url)
        assert response.status == 200, f"GET {url}: {await response.text()}"
        tags[url] = response.headers.get("ETag")
    return tags


async def test_every_read_beneath_an_identifiable_returns_its_etag(loaded_client: AppClient) -> None:
    await _with_attachments(loaded_client)
    submodel_urls = [submodel_url(SM_ID) + read for read in SUBMODEL_READS] + [
        SUPER + read for read in SUBMODEL_READS
    ]
    tags = await _etags(loaded_client, submodel_urls)
    assert len(set(tags.values())) == 1, tags
    assert None not in tags.values()

    shell_tags = await _etags(loaded_client, [shell_url(SHELL_ID) + read for read in SHELL_READS])
    assert len(set(shell_tags.values())) == 1, shell_tags
    assert None not in shell_tags.values()
    assert set(shell_tags.values()) != set(tags.values())
    assert (await loaded_client.get(cd_url(CD_ID))).headers.get("ETag")


Write = Callable[[AppClient, dict[str, str]], Awaitable[ClientResponse]]

# Writes beneath the submodel SM_ID; each must change its ETag. `headers` carries If-Match.
SUBMODEL_WRITES: dict[str, Write] = {
    "put submodel": lambda c, h: c.put(submodel_url(SM_ID), json=submodel(SM_ID, prop("A", "1")), headers=h),
    "patch submodel": lambda c, h: c.patch(submodel_url(SM_ID), json={"idShort": "Patched"}, headers=h),
    "patch submodel $metadata": lambda c, h: c.patch(
        f"{submodel_url(SM_ID)}/$metadata", json={"category": "PARAMETER"}, headers=h
    ),
    "patch submodel $value": lambda c, h: c.patch(
        f"{submodel_url(SM_ID)}/$value", json={"Speed": 7}, headers=h
    ),
    "post element": lambda c, h: c.post(
        f"{submodel_url(SM_ID)}/submodel-elements", json=prop("New", "x"), headers=h
    ),
    "post nested element": lambda c, h: c.post(
        element_url(SM_ID, "Maintenance.Records"), json=collection(None, prop("Note", "4")), headers=h
    ),
    "put element": lambda c, h: c.put(
        element_url(SM_ID, "Speed"), json=prop("Speed", "9", "xs:int"), headers=h
    ),
    "patch element": lambda c, h: c.patch(
        element_url(SM_ID, "Speed"), json={"category": "VARIABLE"}, headers=h
    ),
    "patch element $metadata": lambda c, h: c.patch(
        element_url(SM_ID, "Speed/$metadata"), json={"category": "VARIABLE"}, headers=h
    ),
    "patch element $value": lambda c, h: c.patch(
        element_url(SM_ID, "Maintenance.Records[2].Note/$value"), json="n", headers=h
    ),
    "delete element": lambda c, h: c.delete(element_url(SM_ID, "Maintenance.Records[0]"), headers=h),
    "put attachment": lambda c, h: c.put(
        f"{element_url(SM_ID, 'Manual')}/attachment",
        data=upload(b"new", "new.pdf", "application/pdf"),
        headers=h,
    ),
    "delete attachment": lambda c, h: c.delete(f"{element_url(SM_ID, 'Manual')}/attachment", headers=h),
    "superpath patch $value": lambda c, h: c.patch(
        f"{SUPER}/submodel-elements/Speed/$value", json=8, headers=h
    ),
}

SHELL_WRITES: dict[str, Write] = {
    "put shell": lambda c, h: c.put(
        shell_url(SHELL_ID), json=shell(SHELL_ID, SM_ID, id_short="New"), headers=h
    ),
    "put asset information": lambda c, h: c.put(
        f"{shell_url(SHELL_ID)}/asset-information",
        json={"assetKind": "Type", "globalAssetId": "urn:x"},
        headers=h,
    ),
    "put thumbnail": lambda c, h: c.put(
        f"{shell_url(SHELL_ID)}/asset-information/thumbnail",
        data=upload(b"gif", "t.gif", "image/gif"),
        headers=h,
    ),
    "delete thumbnail": lambda c, h: c.delete(
        f"{shell_url(SHELL_ID)}/asset-information/thumbnail", headers=h
    ),
    "post submodel-ref": lambda c, h: c.post(
        f"{shell_url(SHELL_ID)}/submodel-refs", json=submodel_ref("urn:sm:other"), headers=h
    ),
    "delete submodel-ref": lambda c, h: c.delete(
        f"{shell_url(SHELL_ID)}/submodel-refs/{b64(SM_ID)}", headers=h
    ),
}

CD_WRITES: dict[str, Write] = {
    "put concept description": lambda c, h: c.put(
        cd_url(CD_ID), json=concept_description(CD_ID, "New"), headers=h
    ),
}

ALL_WRITES: list[tuple[str, str, Write]] = (
    [(name, submodel_url(SM_ID), write) for name, write in SUBMODEL_WRITES.items()]
    + [(name, shell_url(SHELL_ID), write) for name, write in SHELL_WRITES.items()]
    + [(name, cd_url(CD_ID), write) for name, write in CD_WRITES.items()]
)


async def _reset(client: AppClient) -> None:
    """Back to the `loaded_client` state (with attachments), so the next write starts from it."""
    for url, document in (
        (submodel_url(SM_ID), every_element_submodel()),
        (shell_url(SHELL_ID), shell(SHELL_ID, SM_ID, id_short="Pump")),
        (cd_url(CD_ID), concept_description(CD_ID, id_short="Temperature")),
    ):
        response = await client.put(url, json=document)
        assert response.status == 204, await response.text()
    await _with_attachments(client)


async def test_every_write_changes_the_etag(loaded_client: AppClient) -> None:
    for name, owner, write in ALL_WRITES:
        await _reset(loaded_client)
        before = await etag_of(loaded_client, owner)
        response = await write(loaded_client, {})
        assert response.status in (200, 201, 204), f"{name}: {await response.text()}"
        after = await etag_of(loaded_client, owner)
        assert response.headers.get("ETag") in (None, after), name
        assert after != before, name


async def test_write_with_a_stale_if_match_is_412_and_changes_nothing(loaded_client: AppClient) -> None:
    for name, owner, write in ALL_WRITES:
        await _reset(loaded_client)
        stale = await etag_of(loaded_client, owner)
        # Someone else writes first (a write that touches nothing the tested write touches).
        bump = await loaded_client.put(owner, json=await _document(loaded_client, owner, idShort="Bumped"))
        assert bump.status == 204, await bump.text()
        before = await snapshot(loaded_client)
        response = await write(loaded_client, {"If-Match": stale})
        try:
            await assert_idta_error(response, 412, "If-Match")
        except AssertionError as failure:
            raise AssertionError(f"{name}: {failure}") from None
        assert await snapshot(loaded_client) == before, name


async def test_write_with_the_current_etag_or_a_star_succeeds(loaded_client: AppClient) -> None:
    for name, owner, write in ALL_WRITES:
        for header in ("current", "*"):
            await _reset(loaded_client)
            tag = await etag_of(loaded_client, owner) if header == "current" else header
            before = await snapshot(loaded_client)
            response = await write(loaded_client, {"If-Match": tag})
            assert response.status in (200, 201, 204), f"{name}, If-Match {tag}: {await response.text()}"
            assert await snapshot(loaded_client) != before, f"{name}, If-Match {tag}: nothing was stored"


async def test_delete_of_an_identifiable_honours_if_match(loaded_client: AppClient) -> None:
    for url in (submodel_url(SM_ID), shell_url(SHELL_ID), cd_url(CD_ID)):
        stale = await etag_of(loaded_client, url)
        bump = await loaded_client.put(url, json=await _document(loaded_client, url, idShort="Bumped"))
        assert bump.status == 204
        before = await snapshot(loaded_client)
        await assert_idta_error(await loaded_client.delete(url, headers={"If-Match": stale}), 412)
        assert await snapshot(loaded_client) == before
        current = await etag_of(loaded_client, url)
        assert (await loaded_client.delete(url, headers={"If-Match": current})).status == 204


async def test_if_match_on_put_of_a_missing_identifiable_is_412(app_client: AppClient) -> None:
    for header in ('"1-1"', "*"):
        response = await app_client.put(
            submodel_url(SM_ID), json=submodel(SM_ID), headers={"If-Match": header}
        )
        await assert_idta_error(response, 412)
    assert (await snapshot(app_client))["etags"] == {}


async def test_stale_etag_of_a_deleted_and_recreated_submodel_is_refused(app_client: AppClient) -> None:
    old = (await app_client.post("/submodels", json=every_element_submodel())).headers["ETag"]
    assert (await app_client.delete(submodel_url(SM_ID))).status == 204
    await created(app_client, "/submodels", every_element_submodel())
    before = await snapshot(app_client)
    response = await app_client.patch(element_url(SM_ID, "Speed/$value"), json=1, headers={"If-Match": old})
    await assert_idta_error(response, 412)
    assert await snapshot(app_client) == before


async def test_a_write_that_changes_nothing_keeps_the_etag(loaded_client: AppClient) -> None:
    before = await etag_of(loaded_client, submodel_url(SM_ID))
    assert (await loaded_client.patch(element_url(SM_ID, "Speed/$value"), json=1500)).status == 204
    document = await (await loaded_client.get(f"{submodel_url(SM_ID)}?extent=withBlobValue")).json()
    assert (await loaded_client.put(submodel_url(SM_ID), json=document)).status == 204
    assert await etag_of(loaded_client, submodel_url(SM_ID)) == before


async def _document(client: AppClient, url: str, **changes: Any) -> dict[str, Any]:
    response = await client.get(url + ("?extent=withBlobValue" if url.startswith("/submodels") else ""))
    document: dict[str, Any] = await response.json()
    return {**document, **changes}

"""DELETE of a File's attachment answers 200 (the only route where the OpenAPI gives 200 for DELETE),
a thumbnail's 204 (3.1 offers 200 and 204 there and prefers 204); the served /openapi.json agrees."""

from __future__ import annotations

from typing import Any

from tests.support.app import AppClient

from .helpers import SHELL_ID, SM_ID, b64, element_url, get_json, shell_url, upload

ATTACHMENT_ROUTES = (
    "/submodels/{submodelIdentifier}/submodel-elements/{idShortPath}/attachment",
    "/shells/{aasIdentifier}/submodels/{submodelIdentifier}/submodel-elements/{idShortPath}/attachment",
)
THUMBNAIL_ROUTE = "/shells/{aasIdentifier}/asset-information/thumbnail"


def success_statuses(openapi: dict[str, Any], path: str, method: str) -> set[str]:
    return {status for status in openapi["paths"][path][method]["responses"] if status.startswith("2")}


async def test_openapi_documents_200_for_deleting_an_attachment_and_204_for_a_thumbnail(
    loaded_client: AppClient,
) -> None:
    openapi = await get_json(loaded_client, "/openapi.json")
    for route in ATTACHMENT_ROUTES:
        assert success_statuses(openapi, route, "delete") == {"200"}, route
    assert "204" in success_statuses(openapi, THUMBNAIL_ROUTE, "delete")


async def test_deleting_an_attachment_answers_200_in_the_repository_and_below_a_shell(
    loaded_client: AppClient,
) -> None:
    for attachment in (
        f"{element_url(SM_ID, 'Manual')}/attachment",
        f"{shell_url(SHELL_ID)}/submodels/{b64(SM_ID)}/submodel-elements/Manual/attachment",
    ):
        uploaded = await loaded_client.put(attachment, data=upload(b"%PDF", "m.pdf", "application/pdf"))
        assert uploaded.status == 204, await uploaded.text()
        deleted = await loaded_client.delete(attachment)
        assert (deleted.status, await deleted.read()) == (200, b""), attachment
        assert (await loaded_client.get(attachment)).status == 404


async def test_deleting_a_thumbnail_answers_204(loaded_client: AppClient) -> None:
    thumbnail = f"{shell_url(SHELL_ID)}/asset-information/thumbnail"
    assert (await loaded_client.put(thumbnail, data=upload(b"gif", "t.gif", "image/gif"))).status == 204
    stored = await loaded_client.get(thumbnail)
    assert (stored.status, await stored.read()) == (200, b"gif")

    assert (await loaded_client.delete(thumbnail)).status == 204
    assert (await loaded_client.get(thumbnail)).status == 404, "the deleted thumbnail is still served"

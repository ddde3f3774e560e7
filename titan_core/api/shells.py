"""AAS Repository routes: shells, their asset information, thumbnail and submodel references."""

from __future__ import annotations

from aiohttp import web

from titan_core.api import params
from titan_core.api.attachments import attachment_response, read_upload
from titan_core.api.context import guarded_write_as, principal, repository
from titan_core.api.identifiable_writes import create_identifiable, delete_identifiable, put_identifiable
from titan_core.api.media_types import MULTIPART, accepts
from titan_core.api.paging import page_of
from titan_core.api.responses import (
    json_response,
    location_below,
    no_content,
    paged,
    paged_raw,
    raw_json_response,
)
from titan_core.model.identifiers import decode_asset_id_filter, encode_identifier
from titan_core.store.records import Page, StoredIdentifiable


def _shell_reference(shell_id: str) -> dict[str, object]:
    return {"type": "ModelReference", "keys": [{"type": "AssetAdministrationShell", "value": shell_id}]}


async def _filtered_page(request: web.Request) -> Page[StoredIdentifiable]:
    limit, cursor = params.paging(request)
    asset_ids = [decode_asset_id_filter(raw) for raw in request.query.getall("assetIds", [])]
    return await repository(request).page(
        "shell",
        limit=limit,
        cursor=cursor,
        id_short=request.query.get("idShort"),
        asset_ids=asset_ids,
        principal=principal(request),
    )


async def list_shells(request: web.Request) -> web.StreamResponse:
    page = await _filtered_page(request)
    return paged_raw((item.body for item in page.items), page.next_cursor)


async def list_shell_references(request: web.Request) -> web.StreamResponse:
    page = await _filtered_page(request)
    return paged([_shell_reference(item.identifier) for item in page.items], page.next_cursor)


async def post_shell(request: web.Request) -> web.StreamResponse:
    return await create_identifiable(request, "shell")


async def get_shell(request: web.Request) -> web.StreamResponse:
    stored = await _stored_shell(request)
    return raw_json_response(stored.body, etag=stored.etag)


async def get_shell_reference(request: web.Request) -> web.StreamResponse:
    stored = await _stored_shell(request)
    return json_response(_shell_reference(stored.identifier), etag=stored.etag)


async def put_shell(request: web.Request) -> web.StreamResponse:
    return await put_identifiable(request, "shell", params.identifier(request, "aasIdentifier"))


async def delete_shell(request: web.Request) -> web.StreamResponse:
    return await delete_identifiable(request, "shell", params.identifier(request, "aasIdentifier"))


async def get_asset_information(request: web.Request) -> web.StreamResponse:
    stored = await _stored_shell(request)
    return json_response(stored.document()["assetInformation"], etag=stored.etag)


async def put_asset_information(request: web.Request) -> web.StreamResponse:
    document = await params.json_body(request)
    await repository(request).set_asset_information(
        params.identifier(request, "aasIdentifier"), document, **guarded_write_as(request)
    )
    return no_content()


async def get_thumbnail(request: web.Request) -> web.StreamResponse:
    shell_id = params.identifier(request, "aasIdentifier")
    stored = await repository(request).get("shell", shell_id, principal=principal(request))
    attachment = await repository(request).get_attachment("shell", shell_id, "", principal=principal(request))
    return attachment_response(attachment, etag=stored.etag)


@accepts(MULTIPART)
async def put_thumbnail(request: web.Request) -> web.StreamResponse:
    shell_id = params.identifier(request, "aasIdentifier")
    attachment = await read_upload(request)
    await repository(request).put_thumbnail(shell_id, attachment, **guarded_write_as(request))
    return no_content()


async def delete_thumbnail(request: web.Request) -> web.StreamResponse:
    await repository(request).delete_thumbnail(
        params.identifier(request, "aasIdentifier"), **guarded_write_as(request)
    )
    return no_content()


async def list_submodel_references(request: web.Request) -> web.StreamResponse:
    limit, cursor = params.paging(request)
    stored = await _stored_shell(request)
    items, next_cursor = page_of(stored.document().get("submodels") or [], limit, cursor)
    return paged(items, next_cursor, etag=stored.etag)


async def post_submodel_reference(request: web.Request) -> web.StreamResponse:
    document = await params.json_body(request)
    reference = await repository(request).add_submodel_reference(
        params.identifier(request, "aasIdentifier"), document, **guarded_write_as(request)
    )
    location = location_below(request, encode_identifier(reference["keys"][-1]["value"]))
    return json_response(reference, status=201, location=location)


async def delete_submodel_reference(request: web.Request) -> web.StreamResponse:
    await repository(request).remove_submodel_reference(
        params.identifier(request, "aasIdentifier"),
        params.identifier(request, "submodelIdentifier"),
        **guarded_write_as(request),
    )
    return no_content()


def add_routes(router: web.UrlDispatcher, prefix: str) -> None:
    base = f"{prefix}/shells"
    one = f"{base}/{{aasIdentifier}}"
    router.add_get(base, list_shells)
    router.add_post(base, post_shell)
    router.add_get(f"{base}/$reference", list_shell_references)
    router.add_get(one, get_shell)
    router.add_put(one, put_shell)
    router.add_delete(one, delete_shell)
    router.add_get(f"{one}/$reference", get_shell_reference)
    router.add_get(f"{one}/asset-information", get_asset_information)
    router.add_put(f"{one}/asset-information", put_asset_information)
    router.add_get(f"{one}/asset-information/thumbnail", get_thumbnail)
    router.add_put(f"{one}/asset-information/thumbnail", put_thumbnail)
    router.add_delete(f"{one}/asset-information/thumbnail", delete_thumbnail)
    router.add_get(f"{one}/submodel-refs", list_submodel_references)
    router.add_post(f"{one}/submodel-refs", post_submodel_reference)
    router.add_delete(f"{one}/submodel-refs/{{submodelIdentifier}}", delete_submodel_reference)


async def _stored_shell(request: web.Request) -> StoredIdentifiable:
    """The shell the path names, read as the caller."""
    return await repository(request).get(
        "shell", params.identifier(request, "aasIdentifier"), principal=principal(request)
    )

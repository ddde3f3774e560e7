"""Submodel Repository routes for whole submodels (elements live in `elements.py`).

Every handler also serves the AAS superpath `/shells/{aasIdentifier}/submodels/{submodelIdentifier}…`,
where the shell must reference the submodel.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from titan_core.api import params
from titan_core.api.context import guarded_write_as, principal, repository, write_as
from titan_core.api.identifiable_writes import create_identifiable, put_identifiable
from titan_core.api.rendering import Modifier, render_submodel
from titan_core.api.responses import (
    dumps,
    json_response,
    no_content,
    paged,
    paged_raw,
    raw_json_response,
    stored_body,
)
from titan_core.errors import NotFound
from titan_core.model.identifiers import decode_identifier
from titan_core.model.projections import paths_of
from titan_core.store.identifiable_store import decode_cursor, encode_cursor
from titan_core.store.records import StoredIdentifiable
from titan_core.store.repository import references_submodel


async def submodel_id_of(request: web.Request) -> str:
    """The submodel of the path; through the superpath, only one the shell references."""
    submodel_id = params.identifier(request, "submodelIdentifier")
    if "aasIdentifier" in request.match_info:
        shell_id = params.identifier(request, "aasIdentifier")
        shell = await repository(request).get("shell", shell_id, principal=principal(request))
        if not any(references_submodel(ref, submodel_id) for ref in shell.document().get("submodels") or ()):
            raise NotFound(f"the shell {shell_id!r} does not reference a submodel {submodel_id!r}")
    return submodel_id


async def load_submodel(request: web.Request) -> StoredIdentifiable:
    return await repository(request).get(
        "submodel", await submodel_id_of(request), principal=principal(request)
    )


def _rendered(stored: StoredIdentifiable, modifier: Modifier, request: web.Request) -> Any:
    return render_submodel(
        stored.document(), modifier, level=params.level(request), extent=params.extent(request)
    )


def _is_plain_read(request: web.Request) -> bool:
    return params.level(request) == "deep"


# ---------------------------------------------------------------- collection


async def list_submodels(request: web.Request) -> web.StreamResponse:
    return await _list(request, "normal")


async def list_submodels_metadata(request: web.Request) -> web.StreamResponse:
    return await _list(request, "metadata")


async def list_submodels_value(request: web.Request) -> web.StreamResponse:
    return await _list(request, "value")


async def list_submodels_reference(request: web.Request) -> web.StreamResponse:
    return await _list(request, "reference")


async def list_submodels_path(request: web.Request) -> web.StreamResponse:
    """The idShortPaths of all submodels, one flat list paged by path (not by submodel).

    The cursor names the submodel to continue with and how many of its paths were already sent,
    so a page may end inside a submodel.
    """
    limit, cursor = params.paging(request)
    raw_semantic_id = request.query.get("semanticId")
    semantic_id = decode_identifier(raw_semantic_id) if raw_semantic_id is not None else None
    after_pk, sent = _decode_path_cursor(cursor)
    level = params.level(request)
    result: list[str] = []
    page_cursor = encode_cursor(after_pk) if after_pk else None
    while True:
        page = await repository(request).page(
            "submodel",
            limit=limit,
            cursor=page_cursor,
            id_short=request.query.get("idShort"),
            semantic_id=semantic_id,
            principal=principal(request),
        )
        for index, item in enumerate(page.items):
            skip = sent if item.pk == after_pk + 1 else 0
            paths = paths_of(item.document(), (), level=level)[skip:]
            room = limit - len(result)
            result.extend(paths[:room])
            if len(paths) > room:
                return paged(result, _encode_path_cursor(item.pk - 1, skip + room))
            if len(result) == limit:
                more = index + 1 < len(page.items) or page.next_cursor is not None
                return paged(result, encode_cursor(item.pk) if more else None)
        if page.next_cursor is None:
            return paged(result, None)
        page_cursor = page.next_cursor


def _encode_path_cursor(after_pk: int, sent: int) -> str:
    return encode_cursor(after_pk) + "." + encode_cursor(sent)


def _decode_path_cursor(cursor: str | None) -> tuple[int, int]:
    if not cursor:
        return 0, 0
    head, _, tail = cursor.partition(".")
    return decode_cursor(head), decode_cursor(tail) if tail else 0


async def _list(request: web.Request, modifier: Modifier) -> web.StreamResponse:
    limit, cursor = params.paging(request)
    semantic_id = request.query.get("semanticId")
    page = await repository(request).page(
        "submodel",
        limit=limit,
        cursor=cursor,
        id_short=request.query.get("idShort"),
        semantic_id=decode_identifier(semantic_id) if semantic_id is not None else None,
        principal=principal(request),
    )
    with_blobs = params.extent(request) == "withBlobValue"
    if modifier == "normal" and _is_plain_read(request):
        return paged_raw(
            (stored_body(item, with_blob_values=with_blobs) for item in page.items), page.next_cursor
        )
    return paged([_rendered(item, modifier, request) for item in page.items], page.next_cursor)


async def post_submodel(request: web.Request) -> web.StreamResponse:
    return await create_identifiable(request, "submodel")


# ---------------------------------------------------------------- one submodel


async def get_submodel(request: web.Request) -> web.StreamResponse:
    stored = await load_submodel(request)
    if _is_plain_read(request):
        body = stored_body(stored, with_blob_values=params.extent(request) == "withBlobValue")
        return raw_json_response(body, etag=stored.etag)
    return json_response(_rendered(stored, "normal", request), etag=stored.etag)


async def get_submodel_metadata(request: web.Request) -> web.StreamResponse:
    return await _get_modified(request, "metadata")


async def get_submodel_value(request: web.Request) -> web.StreamResponse:
    return await _get_modified(request, "value")


async def get_submodel_reference(request: web.Request) -> web.StreamResponse:
    return await _get_modified(request, "reference")


async def get_submodel_path(request: web.Request) -> web.StreamResponse:
    return await _get_modified(request, "path")


async def _get_modified(request: web.Request, modifier: Modifier) -> web.StreamResponse:
    stored = await load_submodel(request)
    return web.Response(
        body=dumps(_rendered(stored, modifier, request)),
        content_type="application/json",
        headers={"ETag": stored.etag},
    )


async def put_submodel(request: web.Request) -> web.StreamResponse:
    return await put_identifiable(request, "submodel", await submodel_id_of(request))


async def patch_submodel(request: web.Request) -> web.StreamResponse:
    return await _write_body(request, repository(request).patch_submodel)


async def patch_submodel_metadata(request: web.Request) -> web.StreamResponse:
    return await _write_body(request, repository(request).set_submodel_metadata)


async def patch_submodel_value(request: web.Request) -> web.StreamResponse:
    return await _write_body(request, repository(request).set_submodel_value)


async def _write_body(request: web.Request, write: Callable[..., Awaitable[None]]) -> web.StreamResponse:
    """`write(submodel id, JSON body, origin=…, principal=…, if_match=…)`, answered 204."""
    submodel_id = await submodel_id_of(request)
    document = await params.json_body(request)
    await write(submodel_id, document, **guarded_write_as(request))
    return no_content()


async def delete_submodel(request: web.Request) -> web.StreamResponse:
    submodel_id = await submodel_id_of(request)
    await repository(request).delete("submodel", submodel_id, **guarded_write_as(request))
    if "aasIdentifier" in request.match_info:
        # Through the AAS view the shell's reference goes too, or it would dangle.
        await repository(request).remove_submodel_reference(
            params.identifier(request, "aasIdentifier"), submodel_id, **write_as(request)
        )
    return no_content()


def add_collection_routes(router: web.UrlDispatcher, prefix: str) -> None:
    base = f"{prefix}/submodels"
    router.add_get(base, list_submodels)
    router.add_post(base, post_submodel)
    router.add_get(f"{base}/$metadata", list_submodels_metadata)
    router.add_get(f"{base}/$value", list_submodels_value)
    router.add_get(f"{base}/$reference", list_submodels_reference)
    router.add_get(f"{base}/$path", list_submodels_path)


def add_item_routes(router: web.UrlDispatcher, one: str) -> None:
    """Routes below one submodel; `one` is the repository path or the AAS superpath."""
    router.add_get(one, get_submodel)
    router.add_put(one, put_submodel)
    router.add_patch(one, patch_submodel)
    router.add_delete(one, delete_submodel)
    router.add_get(f"{one}/$metadata", get_submodel_metadata)
    router.add_patch(f"{one}/$metadata", patch_submodel_metadata)
    router.add_get(f"{one}/$value", get_submodel_value)
    router.add_patch(f"{one}/$value", patch_submodel_value)
    router.add_get(f"{one}/$reference", get_submodel_reference)
    router.add_get(f"{one}/$path", get_submodel_path)

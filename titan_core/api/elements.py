"""Submodel element routes: by idShortPath, with the modifiers, File attachments, and Operations (501)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from titan_core.api import params
from titan_core.api.attachments import attachment_response, read_upload
from titan_core.api.context import guarded_write_as, principal, repository
from titan_core.api.media_types import MULTIPART, accepts
from titan_core.api.paging import page_of
from titan_core.api.rendering import Modifier, render_element
from titan_core.api.responses import json_response, location_below, location_beside, no_content, paged
from titan_core.api.submodels import load_submodel, submodel_id_of
from titan_core.errors import BadRequest, NotImplementedYet
from titan_core.model.elements import find_element
from titan_core.model.paths import PathSegment, format_id_short_path
from titan_core.model.projections import paths_of
from titan_core.model.value_only import NO_VALUE_TYPES


def _render(
    request: web.Request,
    submodel: dict[str, Any],
    path: tuple[PathSegment, ...],
    element: dict[str, Any],
    modifier: Modifier,
) -> Any:
    return render_element(
        submodel, path, element, modifier, level=params.level(request), extent=params.extent(request)
    )


def _keyed_value(element: dict[str, Any], rendered: Any) -> Any:
    """One item of the paged `…/submodel-elements/$value` list: `{idShort: value}`.

    3.1 gives that page's `result` as one object keyed by idShort, 3.0 as an array of bare values
    (which loses the names); an array of one-key objects keeps both the names and the paging, and is
    what the IDTA test engine reads. One element's own `$value` is never keyed (see `_get`).
    """
    id_short = element.get("idShort")
    return {id_short: rendered} if id_short else rendered


# ---------------------------------------------------------------- all elements of a submodel


async def _list(request: web.Request, modifier: Modifier) -> web.StreamResponse:
    limit, cursor = params.paging(request)
    stored = await load_submodel(request)
    submodel = stored.document()
    elements = submodel.get("submodelElements") or []
    if modifier == "path":
        # One flat list of every path, paged by path (as /submodels/$path).
        paths, next_cursor = page_of(paths_of(submodel, (), level=params.level(request)), limit, cursor)
        return paged(paths, next_cursor, etag=stored.etag)
    items, next_cursor = page_of(elements, limit, cursor)
    result: list[Any] = []
    for element in items:
        if modifier == "value" and element.get("modelType") in NO_VALUE_TYPES:
            continue
        if modifier == "metadata" and element.get("modelType") in NO_VALUE_TYPES:
            # In a list, Operations and Capabilities appear as themselves (they have no value).
            result.append(element)
            continue
        rendered = _render(request, submodel, (element["idShort"],), element, modifier)
        result.append(_keyed_value(element, rendered) if modifier == "value" else rendered)
    return paged(result, next_cursor, etag=stored.etag)


async def list_elements(request: web.Request) -> web.StreamResponse:
    return await _list(request, "normal")


async def list_elements_metadata(request: web.Request) -> web.StreamResponse:
    return await _list(request, "metadata")


async def list_elements_value(request: web.Request) -> web.StreamResponse:
    return await _list(request, "value")


async def list_elements_reference(request: web.Request) -> web.StreamResponse:
    return await _list(request, "reference")


async def list_elements_path(request: web.Request) -> web.StreamResponse:
    return await _list(request, "path")


async def post_top_level_element(request: web.Request) -> web.StreamResponse:
    submodel_id = await submodel_id_of(request)
    document = await params.json_body(request)
    element, new_path = await repository(request).create_element(
        submodel_id, None, document, **guarded_write_as(request)
    )
    location = location_below(request, format_id_short_path(new_path))
    return json_response(element, status=201, location=location)


# ---------------------------------------------------------------- one element


async def _get(request: web.Request, modifier: Modifier) -> web.StreamResponse:
    path = params.id_short_path(request)
    stored = await load_submodel(request)
    submodel = stored.document()
    element = find_element(submodel, path)
    # `$value` is the bare SubmodelElementValue (a Property's is a JSON primitive), as the OpenAPI
    # and Part 1 "Format Value" give it for a single element: events and MQTT carry the same value.
    rendered = _render(request, submodel, path, element, modifier)
    return json_response(rendered, etag=stored.etag)


async def get_element(request: web.Request) -> web.StreamResponse:
    return await _get(request, "normal")


async def get_element_metadata(request: web.Request) -> web.StreamResponse:
    return await _get(request, "metadata")


async def get_element_value(request: web.Request) -> web.StreamResponse:
    return await _get(request, "value")


async def get_element_reference(request: web.Request) -> web.StreamResponse:
    return await _get(request, "reference")


async def get_element_path(request: web.Request) -> web.StreamResponse:
    return await _get(request, "path")


async def post_element(request: web.Request) -> web.StreamResponse:
    submodel_id = await submodel_id_of(request)
    path = params.id_short_path(request)
    document = await params.json_body(request)
    element, new_path = await repository(request).create_element(
        submodel_id, path, document, **guarded_write_as(request)
    )
    location = location_beside(request, format_id_short_path(new_path))
    return json_response(element, status=201, location=location)


async def put_element(request: web.Request) -> web.StreamResponse:
    submodel_id = await submodel_id_of(request)
    path = params.id_short_path(request)
    document = await params.json_body(request)
    created = await repository(request).put_element(submodel_id, path, document, **guarded_write_as(request))
    if created:
        stored = await repository(request).get("submodel", submodel_id, principal=principal(request))
        return json_response(
            find_element(stored.document(), path),
            status=201,
            etag=stored.etag,
            location=location_beside(request, format_id_short_path(path)),
        )
    return no_content()


async def patch_element(request: web.Request) -> web.StreamResponse:
    submodel_id = await submodel_id_of(request)
    path = params.id_short_path(request)
    document = await params.json_body(request)
    await repository(request).patch_element(submodel_id, path, document, **guarded_write_as(request))
    return no_content()


async def patch_element_metadata(request: web.Request) -> web.StreamResponse:
    submodel_id = await submodel_id_of(request)
    path = params.id_short_path(request)
    document = await params.json_body(request)
    await repository(request).set_element_metadata(submodel_id, path, document, **guarded_write_as(request))
    return no_content()


_NOT_KEYED: Any = object()


def _keyed_body_value(path: tuple[PathSegment, ...], body: Any) -> Any:
    """The value inside a `{idShort: value}` body naming the addressed element, else `_NOT_KEYED`."""
    last = path[-1]
    if isinstance(last, str) and isinstance(body, dict) and len(body) == 1 and last in body:
        return body[last]
    return _NOT_KEYED


async def patch_element_value(request: web.Request) -> web.StreamResponse:
    submodel_id = await submodel_id_of(request)
    path = params.id_short_path(request)
    document = await params.json_body(request)

    async def write(value: Any) -> None:
        await repository(request).set_element_value(submodel_id, path, value, **guarded_write_as(request))

    try:
        await write(document)  # the body is the bare SubmodelElementValue, as the OpenAPI says
    except BadRequest:
        # Earlier Titan versions answered GET `$value` with `{idShort: value}`; clients write back what
        # they read. Such a body is taken only when its bare reading is refused, so a valid bare value
        # is never misread; a refusal then concerns the value inside (the body was evidently keyed).
        inner = _keyed_body_value(path, document)
        if inner is _NOT_KEYED:
            raise
        await write(inner)
    return no_content()


async def delete_element(request: web.Request) -> web.StreamResponse:
    submodel_id = await submodel_id_of(request)
    await repository(request).delete_element(
        submodel_id, params.id_short_path(request), **guarded_write_as(request)
    )
    return no_content()


async def get_attachment(request: web.Request) -> web.StreamResponse:
    path = params.id_short_path(request)
    stored = await load_submodel(request)
    element = find_element(stored.document(), path)
    if element.get("modelType") != "File":
        raise BadRequest(
            f"element {request.match_info['idShortPath']!r} is a {element.get('modelType')}, not a File"
        )
    attachment = await repository(request).get_attachment(
        "submodel", stored.identifier, format_id_short_path(path), principal=principal(request)
    )
    return attachment_response(attachment, etag=stored.etag)


@accepts(MULTIPART)
async def put_attachment(request: web.Request) -> web.StreamResponse:
    submodel_id = await submodel_id_of(request)
    path = params.id_short_path(request)
    attachment = await read_upload(request)
    await repository(request).put_attachment(submodel_id, path, attachment, **guarded_write_as(request))
    return no_content()


async def delete_attachment(request: web.Request) -> web.StreamResponse:
    submodel_id = await submodel_id_of(request)
    await repository(request).delete_attachment(
        submodel_id, params.id_short_path(request), **guarded_write_as(request)
    )
    # The OpenAPI gives 200 here, unlike every other DELETE (and the thumbnail's, where
    # 3.1 prefers 204); clients check for exactly 200.
    return web.Response(status=200)


async def operation_not_implemented(request: web.Request) -> web.StreamResponse:
    raise NotImplementedYet(
        f"{request.method} {request.path}: invoking Operations is not supported by this server yet"
    )


def add_routes(router: web.UrlDispatcher, one: str) -> None:
    """Element routes below one submodel path (`one`: repository path or AAS superpath)."""
    base = f"{one}/submodel-elements"
    router.add_get(base, list_elements)
    router.add_post(base, post_top_level_element)
    router.add_get(f"{base}/$metadata", list_elements_metadata)
    router.add_get(f"{base}/$value", list_elements_value)
    router.add_get(f"{base}/$reference", list_elements_reference)
    router.add_get(f"{base}/$path", list_elements_path)
    element = f"{base}/{{idShortPath}}"
    router.add_get(element, get_element)
    router.add_post(element, post_element)
    router.add_put(element, put_element)
    router.add_patch(element, patch_element)
    router.add_delete(element, delete_element)
    router.add_get(f"{element}/$metadata", get_element_metadata)
    router.add_patch(f"{element}/$metadata", patch_element_metadata)
    router.add_get(f"{element}/$value", get_element_value)
    router.add_patch(f"{element}/$value", patch_element_value)
    router.add_get(f"{element}/$reference", get_element_reference)
    router.add_get(f"{element}/$path", get_element_path)
    router.add_get(f"{element}/attachment", get_attachment)
    router.add_put(f"{element}/attachment", put_attachment)
    router.add_delete(f"{element}/attachment", delete_attachment)
    for suffix in ("invoke", "invoke/$value", "invoke-async", "invoke-async/$value"):
        router.add_post(f"{element}/{suffix}", operation_not_implemented)
    router.add_get(f"{element}/operation-status/{{handleId}}", operation_not_implemented)
    router.add_get(f"{element}/operation-results/{{handleId}}", operation_not_implemented)
    router.add_get(f"{element}/operation-results/{{handleId}}/$value", operation_not_implemented)

"""Concept Description Repository routes."""

from __future__ import annotations

from aiohttp import web

from titan_core.api import params
from titan_core.api.context import principal, repository
from titan_core.api.identifiable_writes import create_identifiable, delete_identifiable, put_identifiable
from titan_core.api.responses import paged_raw, raw_json_response
from titan_core.errors import BadRequest


async def list_concept_descriptions(request: web.Request) -> web.StreamResponse:
    limit, cursor = params.paging(request)
    # Concept descriptions have no semanticId; these filters match against their isCaseOf and
    # dataSpecification references in other servers. Refusing beats silently ignoring them.
    for unsupported in ("isCaseOf", "dataSpecificationRef"):
        if unsupported in request.query:
            raise BadRequest(f"the filter {unsupported!r} is not supported; supported: idShort")
    page = await repository(request).page(
        "concept_description",
        limit=limit,
        cursor=cursor,
        id_short=request.query.get("idShort"),
        principal=principal(request),
    )
    return paged_raw((item.body for item in page.items), page.next_cursor)


async def post_concept_description(request: web.Request) -> web.StreamResponse:
    return await create_identifiable(request, "concept_description")


async def get_concept_description(request: web.Request) -> web.StreamResponse:
    stored = await repository(request).get(
        "concept_description", params.identifier(request, "cdIdentifier"), principal=principal(request)
    )
    return raw_json_response(stored.body, etag=stored.etag)


async def put_concept_description(request: web.Request) -> web.StreamResponse:
    return await put_identifiable(request, "concept_description", params.identifier(request, "cdIdentifier"))


async def delete_concept_description(request: web.Request) -> web.StreamResponse:
    return await delete_identifiable(
        request, "concept_description", params.identifier(request, "cdIdentifier")
    )


def add_routes(router: web.UrlDispatcher, prefix: str) -> None:
    base = f"{prefix}/concept-descriptions"
    one = f"{base}/{{cdIdentifier}}"
    router.add_get(base, list_concept_descriptions)
    router.add_post(base, post_concept_description)
    router.add_get(one, get_concept_description)
    router.add_put(one, put_concept_description)
    router.add_delete(one, delete_concept_description)

"""The POST, PUT and DELETE of a whole identifiable (shell, submodel, concept description): one answer shape for all.

POST answers 201 with the stored body, its ETag and a Location below the collection; PUT answers 201
with a Location of the request's own path when it created the identifiable, else 204 with the new ETag;
DELETE answers 204.
"""

from __future__ import annotations

from aiohttp import web

from titan_core.api import params
from titan_core.api.context import guarded_write_as, repository, write_as
from titan_core.api.responses import location_below, no_content, raw_json_response
from titan_core.model.identifiers import encode_identifier
from titan_core.store.records import Kind


async def create_identifiable(request: web.Request, kind: Kind) -> web.StreamResponse:
    document = await params.json_body(request)
    stored = await repository(request).create(kind, document, **write_as(request))
    location = location_below(request, encode_identifier(stored.identifier))
    return raw_json_response(stored.body, status=201, etag=stored.etag, location=location)


async def put_identifiable(request: web.Request, kind: Kind, identifier: str) -> web.StreamResponse:
    document = await params.json_body(request)
    stored, created = await repository(request).put(kind, identifier, document, **guarded_write_as(request))
    if created:
        return raw_json_response(stored.body, status=201, etag=stored.etag, location=request.rel_url.raw_path)
    return no_content(etag=stored.etag)


async def delete_identifiable(request: web.Request, kind: Kind, identifier: str) -> web.StreamResponse:
    await repository(request).delete(kind, identifier, **guarded_write_as(request))
    return no_content()

"""The HTTP side: the AAS Registry and Submodel Registry routes (IDTA Part 2, SSP-001 of each).

Handlers read the request (identifiers in base64url, paging, filters, If-Match, the JSON body) and
answer as the core's Part 2 routes do: stored JSON sent as is, `{"paging_metadata", "result"}`
pages, an ETag per descriptor, the IDTA error body for every refusal (raised as `TitanError`s).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable
from urllib.parse import quote

from aiohttp import web

from titan_core.plugin_api import (
    REPOSITORY,
    BadRequest,
    decode_identifier,
    encode_identifier,
    json_body,
    json_response,
    paged,
    paging,
    principal_of,
)
from titan_plugin_registry.descriptors import DescriptorKind
from titan_plugin_registry.registry import Registry
from titan_plugin_registry.store import Listing, ShellFilter, StoredDescriptor

JSON = "application/json"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
# The Part 1 AssetKind values (V3.1 adds Role and NotApplicable to V3.0's Instance and Type).
ASSET_KINDS = ("Instance", "NotApplicable", "Role", "Type")


def _registry(request: web.Request) -> Registry:
    # Two attributes: cheaper to build per request than to keep on an app that has started.
    return Registry(request.app[REPOSITORY])


def _identifier(request: web.Request, name: str) -> str:
    return decode_identifier(request.match_info[name])


def _if_match(request: web.Request) -> str | None:
    return request.headers.get("If-Match")


def _stored_response(
    stored: StoredDescriptor, *, status: int = 200, location: str | None = None
) -> web.Response:
    response = web.Response(body=stored.body.encode(), status=status, content_type=JSON)
    response.headers["ETag"] = stored.etag
    if location:
        response.headers["Location"] = location
    return response


def _paged_bodies(bodies: Iterable[str], next_cursor: str | None) -> web.Response:
    """A paged result assembled from the stored JSON texts, without parsing them."""
    metadata = {"cursor": next_cursor} if next_cursor else {}
    text = '{"paging_metadata":' + json.dumps(metadata) + ',"result":[' + ",".join(bodies) + "]}"
    return web.Response(body=text.encode(), content_type=JSON)


def _no_content(etag: str | None = None) -> web.Response:
    response = web.Response(status=204)
    if etag:
        response.headers["ETag"] = etag
    return response


def _location_below(request: web.Request, identifier: str) -> str:
    """The path of a descriptor created in the collection the request addresses."""
    return request.rel_url.raw_path.rstrip("/") + "/" + quote(encode_identifier(identifier), safe="")


def _shell_filter(request: web.Request) -> ShellFilter:
    asset_kind = request.query.get("assetKind")
    if asset_kind is not None and asset_kind not in ASSET_KINDS:
        raise BadRequest(f"assetKind {asset_kind!r} is not valid: use one of {', '.join(ASSET_KINDS)}")
    raw_type = request.query.get("assetType")
    asset_type = None
    if raw_type is not None:
        try:
            asset_type = decode_identifier(raw_type)
        except BadRequest as exc:
            raise BadRequest(f"assetType: {exc.message}") from None
    return ShellFilter(asset_kind=asset_kind, asset_type=asset_type)


def _add_routes(router: web.UrlDispatcher, routes: Iterable[tuple[str, str, Handler]]) -> None:
    for method, path, handler in routes:
        if method == "GET":
            router.add_get(path, handler)  # and HEAD, as the core's GET routes
        else:
            router.add_route(method, path, handler)


# --- One collection of descriptors: /shell-descriptors or /submodel-descriptors ---


class DescriptorRoutes:
    """The five operations on one collection; `name` is the identifier's path parameter."""

    def __init__(self, kind: DescriptorKind, name: str) -> None:
        self.kind = kind
        self.name = name

    async def list(self, request: web.Request) -> web.StreamResponse:
        limit, cursor = paging(request)
        shell_filter = _shell_filter(request) if self.kind == "shell_descriptor" else None
        listing = Listing(limit, cursor, shell_filter)
        found = await _registry(request).page(self.kind, listing, principal=principal_of(request))
        return _paged_bodies(found.bodies, found.next_cursor)

    async def post(self, request: web.Request) -> web.StreamResponse:
        document = await json_body(request)
        stored = await _registry(request).create(self.kind, document, principal=principal_of(request))
        return _stored_response(stored, status=201, location=_location_below(request, stored.identifier))

    async def get(self, request: web.Request) -> web.StreamResponse:
        stored = await _registry(request).get(
            self.kind, _identifier(request, self.name), principal=principal_of(request)
        )
        return _stored_response(stored)

    async def put(self, request: web.Request) -> web.StreamResponse:
        identifier = _identifier(request, self.name)
        document = await json_body(request)
        stored, created = await _registry(request).put(
            self.kind, identifier, document, principal=principal_of(request), if_match=_if_match(request)
        )
        if created:
            return _stored_response(stored, status=201, location=request.rel_url.raw_path)
        return _no_content(stored.etag)

    async def delete(self, request: web.Request) -> web.StreamResponse:
        await _registry(request).delete(
            self.kind,
            _identifier(request, self.name),
            principal=principal_of(request),
            if_match=_if_match(request),
        )
        return _no_content()

    def add_to(self, router: web.UrlDispatcher, base: str) -> None:
        one = f"{base}/{{{self.name}}}"
        _add_routes(router, (
            ("GET", base, self.list), ("POST", base, self.post),
            ("GET", one, self.get), ("PUT", one, self.put), ("DELETE", one, self.delete),
        ))  # fmt: skip


SHELL_DESCRIPTORS = DescriptorRoutes("shell_descriptor", "aasIdentifier")
SUBMODEL_DESCRIPTORS = DescriptorRoutes("submodel_descriptor", "submodelIdentifier")


# --- Submodel descriptors inside an AAS descriptor ---


async def list_nested(request: web.Request) -> web.StreamResponse:
    limit, cursor = paging(request)
    found = await _registry(request).nested_page(
        _identifier(request, "aasIdentifier"), principal=principal_of(request), limit=limit, cursor=cursor
    )
    return paged(found.items, found.next_cursor, etag=found.etag)


async def post_nested(request: web.Request) -> web.StreamResponse:
    document = await json_body(request)
    stored = await _registry(request).nested_add(
        _identifier(request, "aasIdentifier"), document, principal=principal_of(request)
    )
    location = _location_below(request, document["id"])
    return json_response(document, status=201, etag=stored.etag, location=location)


async def get_nested(request: web.Request) -> web.StreamResponse:
    document, etag = await _registry(request).nested_get(
        _identifier(request, "aasIdentifier"),
        _identifier(request, "submodelIdentifier"),
        principal=principal_of(request),
    )
    return json_response(document, etag=etag)


async def put_nested(request: web.Request) -> web.StreamResponse:
    submodel_id = _identifier(request, "submodelIdentifier")
    document = await json_body(request)
    stored, added = await _registry(request).nested_put(
        _identifier(request, "aasIdentifier"),
        submodel_id,
        document,
        principal=principal_of(request),
        if_match=_if_match(request),
    )
    if added:
        return json_response(document, status=201, etag=stored.etag, location=request.rel_url.raw_path)
    return _no_content(stored.etag)


async def delete_nested(request: web.Request) -> web.StreamResponse:
    await _registry(request).nested_delete(
        _identifier(request, "aasIdentifier"),
        _identifier(request, "submodelIdentifier"),
        principal=principal_of(request),
        if_match=_if_match(request),
    )
    return _no_content()


def add_aas_registry_routes(router: web.UrlDispatcher, prefix: str) -> None:
    base = f"{prefix}/shell-descriptors"
    SHELL_DESCRIPTORS.add_to(router, base)
    nested = f"{base}/{{aasIdentifier}}/submodel-descriptors"
    nested_one = f"{nested}/{{submodelIdentifier}}"
    _add_routes(router, (
        ("GET", nested, list_nested), ("POST", nested, post_nested),
        ("GET", nested_one, get_nested), ("PUT", nested_one, put_nested), ("DELETE", nested_one, delete_nested),
    ))  # fmt: skip


def add_submodel_registry_routes(router: web.UrlDispatcher, prefix: str) -> None:
    SUBMODEL_DESCRIPTORS.add_to(router, f"{prefix}/submodel-descriptors")

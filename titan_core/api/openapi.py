"""`GET /openapi.json`: the official IDTA Part 2 OpenAPI document, cut down to exactly the routes this
server serves, with its swaggerhub `$ref`s pointing at the local Part 1 and Part 2 schemas.

The official files ship in `spec/` (CC BY 4.0, see `spec/NOTICE.md`). Routes the IDTA files do
not describe (`/events`, `/health`, plugin routes) get Titan's own, shorter descriptions.
"""

from __future__ import annotations

import copy
import functools
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from aiohttp import hdrs, web

from titan_core import __version__
from titan_core.auth import ACCESS_ATTRIBUTE, PUBLIC, public
from titan_core.keys import SETTINGS

SPEC_DIRECTORY = Path(__file__).parent / "spec"
OPENAPI_PATH = "/openapi.json"
_SWAGGERHUB_REF = re.compile(
    r"^https://api\.swaggerhub\.com/domains/Plattform_i40/Part[12]-[A-Za-z]+-Schemas/[^#]*(#.*)$"
)
_SUPERPATH = "/shells/{aasIdentifier}/submodels/{submodelIdentifier}"
_PLACEHOLDER = re.compile(r"\{([^}:]+)(?::[^}]*)?\}")
_ERROR = {"$ref": "#/components/responses/default"}
_JSON = "application/json"


@functools.cache
def official_documents() -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """The shipped IDTA files: the entire API collection, the Part 1 and the Part 2 schemas."""
    entire, part1, part2 = (
        json.loads((SPEC_DIRECTORY / name).read_text(encoding="utf-8"))
        for name in (
            "entire-api-collection-v3.1.json",
            "part1-metamodel-schemas.json",
            "part2-api-schemas.json",
        )
    )
    return entire, part1, part2


def served_operations(app: web.Application) -> Iterator[tuple[str, str, web.AbstractRoute]]:
    """(path template, lower-case method, route) of every route, without HEAD and the API alias prefix."""
    prefix = app[SETTINGS].api_prefix
    for route in app.router.routes():
        resource = route.resource
        if resource is None or route.method in (hdrs.METH_HEAD, hdrs.METH_ANY, hdrs.METH_OPTIONS):
            continue
        path = resource.canonical
        if prefix and (path == prefix or path.startswith(prefix + "/")):
            continue
        yield path, route.method.lower(), route


def build_openapi(app: web.Application) -> dict[str, Any]:
    """The OpenAPI 3.1 document of `app` (a fresh copy)."""
    entire, part1, part2 = official_documents()
    settings = app[SETTINGS]
    paths: dict[str, dict[str, Any]] = {}
    for path, method, route in sorted(served_operations(app), key=lambda item: item[0]):
        item = paths.setdefault(path, {})
        item[method] = _operation(entire["paths"], path, method, item)
        if getattr(route.handler, ACCESS_ATTRIBUTE, None) == PUBLIC or path in _TITAN_PUBLIC:
            item[method]["security"] = []
    components: dict[str, Any] = {}
    for source in (part1, part2):
        for section, entries in source.get("components", {}).items():
            components.setdefault(section, {}).update(copy.deepcopy(entries))
    components["securitySchemes"] = {
        "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
        "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
    }
    info = copy.deepcopy(entire["info"])
    info["title"] = "Titan-AAS"
    info["version"] = __version__
    info["description"] = (
        "The routes this Titan-AAS server serves. Derived from the IDTA 'DotAAS Part 2 | HTTP/REST | "
        f"Entire API Collection' {entire['info'].get('version', '')} and its Part 1 and Part 2 schemas "
        "(Copyright: Industrial Digital Twin Association (IDTA) 2025, CC BY 4.0): references resolved "
        "to local copies, only served routes listed, Titan's own routes added."
        + (f" Every API route is also served below {settings.api_prefix}." if settings.api_prefix else "")
    )
    document: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": info,
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": components,
    }
    if settings.auth_enabled:
        document["security"] = [{"bearer": []}, {"apiKey": []}]
    _local_refs(document)
    return document


def _operation(official: dict[str, Any], path: str, method: str, item: dict[str, Any]) -> dict[str, Any]:
    """The official operation for `path`, or the one of the submodel path below a shell, or Titan's."""
    found = official.get(path, {})
    if method in found:
        item.setdefault("parameters", copy.deepcopy(found.get("parameters", [])))
        return dict(copy.deepcopy(found[method]))
    if path.startswith(_SUPERPATH + "/"):
        below = official.get("/submodels/{submodelIdentifier}" + path[len(_SUPERPATH) :], {})
        if method in below:
            # The IDTA files miss a few superpaths (one is misspelt `invoke-asnyc`).
            shell = {"$ref": "#/components/parameters/AssetAdministrationShellIdentifier"}
            item.setdefault("parameters", [shell, *copy.deepcopy(below.get("parameters", []))])
            operation = dict(copy.deepcopy(below[method]))
            operation["operationId"] = operation.get("operationId", method) + "_AasRepository"
            return operation
    own = _TITAN_OPERATIONS.get(path, {}).get(method)
    if own is not None:
        return copy.deepcopy(own)
    return _plugin_operation(path, method)


def _plugin_operation(path: str, method: str) -> dict[str, Any]:
    names = _PLACEHOLDER.findall(path)
    slug = re.sub(r"[^A-Za-z0-9]+", "_", path).strip("_") or "root"
    return {
        "summary": f"{method.upper()} {path}, added by a plugin",
        "operationId": f"{method}_{slug}",
        "tags": ["Plugins"],
        "parameters": [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}} for name in names
        ],
        "responses": {"default": {"description": "see the plugin's documentation"}},
    }


def _local_refs(node: Any) -> None:
    """Rewrite every swaggerhub `$ref` in place to the local `#/components/…` it names."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            match = _SWAGGERHUB_REF.match(ref)
            if match:
                node["$ref"] = match.group(1)
        for value in node.values():
            _local_refs(value)
    elif isinstance(node, list):
        for value in node:
            _local_refs(value)


_FEED_PARAMETERS: list[dict[str, Any]] = [
    {"name": "after", "in": "query", "description": "titanseq to continue after (exclusive)",
     "schema": {"type": "string", "pattern": "^[0-9]{1,19}$"}},
    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1}},
    {"name": "wait", "in": "query", "description": "seconds to wait for a first event",
     "schema": {"type": "number", "minimum": 0}},
    *({"name": key, "in": "query", "schema": {"type": "array", "items": {"type": "string"}},
       "style": "form", "explode": True}
      for key in ("entity_types", "ids", "shell_ids", "paths", "types", "semantic_ids")),
]  # fmt: skip

_TITAN_OPERATIONS: dict[str, dict[str, dict[str, Any]]] = {
    "/events": {"get": {
        "summary": "The retained events after a titanseq, filtered, optionally long-polling (docs/events.md)",
        "operationId": "GetEvents", "tags": ["Titan"], "parameters": _FEED_PARAMETERS,
        "responses": {"200": {"description": "events and the cursor to continue after", "content": {_JSON: {
            "schema": {"type": "object", "properties": {"result": {"type": "array", "items": {"type": "object"}},
                       "paging_metadata": {"type": "object"}}}}}},
            "400": _ERROR, "401": _ERROR, "403": _ERROR, "410": _ERROR, "default": _ERROR},
    }},
    "/health": {"get": {
        "summary": "Liveness: the process answers", "operationId": "GetHealth", "tags": ["Titan"],
        "responses": {"200": {"description": "alive", "content": {_JSON: {"schema": {"type": "object"}}}}},
    }},
    "/ready": {"get": {
        "summary": "Readiness: the database answers; plugin and event pipeline health in the body",
        "operationId": "GetReady", "tags": ["Titan"],
        "responses": {"200": {"description": "ready", "content": {_JSON: {"schema": {"type": "object"}}}},
                      "503": {"description": "cannot serve", "content": {_JSON: {"schema": {"type": "object"}}}}},
    }},
    "/": {"get": {
        "summary": "Home: links to the console (where installed), the API docs and this document",
        "operationId": "GetHome", "tags": ["Titan"],
        "responses": {"200": {"description": "links", "content": {_JSON: {"schema": {"type": "object"}},
                                                                  "text/html": {"schema": {"type": "string"}}}}},
    }},
    "/docs": {"get": {
        "summary": "This server's routes as an HTML page", "operationId": "GetDocs", "tags": ["Titan"],
        "responses": {"200": {"description": "HTML", "content": {"text/html": {"schema": {"type": "string"}}}}},
    }},
    OPENAPI_PATH: {"get": {
        "summary": "This document", "operationId": "GetOpenApi", "tags": ["Titan"],
        "responses": {"200": {"description": "OpenAPI 3.1", "content": {_JSON: {"schema": {"type": "object"}}}}},
    }},
}  # fmt: skip
_TITAN_PUBLIC = frozenset({"/health", "/ready", "/description", OPENAPI_PATH})

OPENAPI_BODY: web.AppKey[dict[str, bytes]] = web.AppKey("titan.openapi_body", dict)


@public
async def get_openapi(request: web.Request) -> web.Response:
    """Built on first request (every route is registered by then) and kept."""
    cache = request.app[OPENAPI_BODY]
    body = cache.get("body")
    if body is None:
        body = cache["body"] = json.dumps(build_openapi(request.app), ensure_ascii=False).encode()
    return web.Response(body=body, content_type="application/json")


def add_openapi_route(app: web.Application) -> None:
    app[OPENAPI_BODY] = {}
    app.router.add_get(OPENAPI_PATH, get_openapi)

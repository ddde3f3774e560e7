"""Reading a request: identifiers, idShortPaths, paging, level/extent, JSON bodies, If-Match."""

from __future__ import annotations

import json
from typing import Any, Literal

from aiohttp import hdrs, web

from titan_core.api.media_types import JSON, is_accepted
from titan_core.errors import BadRequest, UnsupportedMediaType
from titan_core.json_text import loads_json
from titan_core.keys import SETTINGS
from titan_core.model.identifiers import decode_identifier
from titan_core.model.paths import PathSegment, parse_id_short_path
from titan_core.model.verify import check_json_depth

Level = Literal["deep", "core"]
Extent = Literal["withoutBlobValue", "withBlobValue"]


def identifier(request: web.Request, name: str) -> str:
    return decode_identifier(request.match_info[name])


def id_short_path(request: web.Request) -> tuple[PathSegment, ...]:
    settings = request.app[SETTINGS]
    return parse_id_short_path(request.match_info["idShortPath"], max_depth=settings.max_path_depth)


def paging(request: web.Request) -> tuple[int, str | None]:
    settings = request.app[SETTINGS]
    raw_limit = request.query.get("limit")
    limit = settings.default_page_limit
    if raw_limit is not None:
        try:
            limit = int(raw_limit)
        except ValueError:
            limit = -1
        if limit < 1:
            raise BadRequest(f"limit {raw_limit!r} is not valid: pass a whole number of at least 1")
        # Asking for more than the maximum is not an error: the page is capped and has a cursor.
        limit = min(limit, settings.max_page_limit)
    cursor = request.query.get("cursor")
    if cursor is not None and not cursor:
        raise BadRequest(
            "cursor is empty: pass the paging_metadata.cursor of a previous page, or leave it out"
        )
    return limit, cursor


def level(request: web.Request) -> Level:
    value = request.query.get("level", "deep")
    if value not in ("deep", "core"):
        raise BadRequest(f"level {value!r} is not valid: use 'deep' (the default) or 'core'")
    return "core" if value == "core" else "deep"


def extent(request: web.Request) -> Extent:
    value = request.query.get("extent", "withoutBlobValue")
    if value not in ("withoutBlobValue", "withBlobValue"):
        raise BadRequest(
            f"extent {value!r} is not valid: use 'withoutBlobValue' (the default) or 'withBlobValue'"
        )
    return "withBlobValue" if value == "withBlobValue" else "withoutBlobValue"


def reject_modifier_params(request: web.Request, *names: str) -> None:
    """Some modifiers do not take level/extent (the spec leaves them out): refuse instead of ignoring."""
    for name in names:
        if name in request.query:
            raise BadRequest(f"the query parameter {name!r} is not allowed on {request.path}")


def if_match(request: web.Request) -> str | None:
    return request.headers.get("If-Match")


async def json_body(request: web.Request) -> Any:
    """The request body as JSON, refusing non-JSON media types, bad UTF-8, bad JSON and deep nesting."""
    # `media_type_check` refuses the rest before a handler runs; this holds for plugin handlers too.
    if request.body_exists and (
        hdrs.CONTENT_TYPE not in request.headers or not is_accepted(request.content_type.lower(), (JSON,))
    ):
        raise UnsupportedMediaType(
            f"the body must be application/json, got {request.headers.get(hdrs.CONTENT_TYPE, 'no Content-Type')!r}"
        )
    raw = await request.read()
    if not raw.strip():
        raise BadRequest("the request body is empty: send the JSON document")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequest(f"the request body is not valid UTF-8 (byte {exc.start})") from None
    try:
        document = loads_json(text)
    except json.JSONDecodeError as exc:
        raise BadRequest(
            f"the request body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except RecursionError:
        raise BadRequest("the request body is nested too deeply") from None
    check_json_depth(document, request.app[SETTINGS].max_json_depth)
    return document


def origin(request: web.Request) -> str:
    return "rest"

"""Building responses: stored JSON sent as is, projections, paged results, ETags."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from aiohttp import web

from titan_core.model.projections import without_blob_values
from titan_core.store.records import StoredIdentifiable

JSON = "application/json"


def dumps(document: Any) -> bytes:
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()


def json_response(document: Any, *, status: int = 200, etag: str | None = None) -> web.Response:
    response = web.Response(body=dumps(document), status=status, content_type=JSON)
    if etag:
        response.headers["ETag"] = etag
    return response


def raw_json_response(body: str | bytes, *, status: int = 200, etag: str | None = None) -> web.Response:
    response = web.Response(
        body=body.encode() if isinstance(body, str) else body, status=status, content_type=JSON
    )
    if etag:
        response.headers["ETag"] = etag
    return response


def no_content(*, etag: str | None = None) -> web.Response:
    response = web.Response(status=204)
    if etag:
        response.headers["ETag"] = etag
    return response


def stored_body(stored: StoredIdentifiable, *, with_blob_values: bool) -> str:
    """The identifiable's JSON, with Blob contents removed unless asked for (the default extent)."""
    if with_blob_values or not stored.has_blob_values:
        return stored.body
    return dumps(without_blob_values(stored.document())).decode()


def paged_raw(bodies: Iterable[str], next_cursor: str | None) -> web.Response:
    """A paged result assembled from ready JSON texts, without parsing them."""
    metadata = {"cursor": next_cursor} if next_cursor else {}
    head = '{"paging_metadata":' + json.dumps(metadata) + ',"result":['
    return raw_json_response(head + ",".join(bodies) + "]}")


def paged(items: list[Any], next_cursor: str | None, *, etag: str | None = None) -> web.Response:
    metadata = {"cursor": next_cursor} if next_cursor else {}
    return json_response({"paging_metadata": metadata, "result": items}, etag=etag)

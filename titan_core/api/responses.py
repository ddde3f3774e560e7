"""Building responses: stored JSON sent as is, projections, paged results, ETags."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

from aiohttp import web

from titan_core.model.projections import without_blob_values
from titan_core.store.records import StoredIdentifiable

JSON = "application/json"


def dumps(document: Any) -> bytes:
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()


def json_response(
    document: Any, *, status: int = 200, etag: str | None = None, location: str | None = None
) -> web.Response:
    response = web.Response(body=dumps(document), status=status, content_type=JSON)
    if etag:
        response.headers["ETag"] = etag
    if location:
        response.headers["Location"] = location
    return response


def raw_json_response(
    body: str | bytes, *, status: int = 200, etag: str | None = None, location: str | None = None
) -> web.Response:
    response = web.Response(
        body=body.encode() if isinstance(body, str) else body, status=status, content_type=JSON
    )
    if etag:
        response.headers["ETag"] = etag
    if location:
        response.headers["Location"] = location
    return response


def location_below(request: web.Request, segment: str) -> str:
    """The URL of a resource created in the collection the request addresses (`POST /shells` -> `/shells/{id}`).

    An absolute-path reference (RFC 9110 §10.2.2 allows relative ones) built from the path as sent,
    so a prefix the server is mounted under is kept; `segment` is percent-encoded here.
    """
    return request.rel_url.raw_path.rstrip("/") + "/" + quote(segment, safe="")


def location_beside(request: web.Request, segment: str) -> str:
    """The URL of a resource whose path replaces the request's last segment.

    An element POSTed into a container is named by its own idShortPath, not below the container's.
    """
    head = request.rel_url.raw_path.rstrip("/").rpartition("/")[0]
    return head + "/" + quote(segment, safe="")


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

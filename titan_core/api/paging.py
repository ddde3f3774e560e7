"""Cursor paging over lists held inside one document (submodel-refs, submodel elements)."""

from __future__ import annotations

from typing import TypeVar

from titan_core.errors import BadRequest
from titan_core.store.identifiable_store import decode_cursor, encode_cursor

T = TypeVar("T")


def page_of(items: list[T], limit: int, cursor: str | None) -> tuple[list[T], str | None]:
    """Items from the cursor's position on; the cursor is the position of the next item."""
    start = decode_cursor(cursor) if cursor else 0
    if start > len(items):
        raise BadRequest(f"cursor {cursor!r} is past the end of the list: start again without a cursor")
    end = start + limit
    return items[start:end], (encode_cursor(end) if end < len(items) else None)

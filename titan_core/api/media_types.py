"""Which media types a request body may have: JSON everywhere, `multipart/form-data` where a route
takes uploads (marked with `accepts`); anything else, or a body without `Content-Type`, is 415.

Why refuse a body without a type: a browser sends `text/plain` or no type cross-site without asking
first (no CORS preflight), so accepting such a body as JSON let any web page create twins.
`application/json` and `multipart/form-data` are documented in docs/rest-api.md; a route that
takes XML or AASX packages marks itself with those types the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from aiohttp import hdrs, web
from aiohttp.typedefs import Handler

from titan_core.api.middleware import error_response
from titan_core.errors import UnsupportedMediaType

JSON = "application/json"
MULTIPART = "multipart/form-data"
# The attribute a handler carries when it takes other types than JSON.
MEDIA_TYPES_ATTRIBUTE = "titan_accepted_media_types"
DEFAULT_MEDIA_TYPES = (JSON,)
_BODY_METHODS = frozenset({hdrs.METH_POST, hdrs.METH_PUT, hdrs.METH_PATCH, hdrs.METH_DELETE})

HandlerT = TypeVar("HandlerT", bound=Callable[..., Any])


def accepts(*media_types: str) -> Callable[[HandlerT], HandlerT]:
    """Mark a handler as taking bodies of `media_types` (instead of JSON), e.g. `accepts(MULTIPART)`."""

    def mark(handler: HandlerT) -> HandlerT:
        setattr(handler, MEDIA_TYPES_ATTRIBUTE, tuple(media_types))
        return handler

    return mark


def accepted_media_types(request: web.Request) -> tuple[str, ...]:
    """The media types the route of `request` takes a body in."""
    marked = getattr(request.match_info.handler, MEDIA_TYPES_ATTRIBUTE, None)
    return tuple(marked) if marked is not None else DEFAULT_MEDIA_TYPES


def is_accepted(content_type: str, accepted: tuple[str, ...]) -> bool:
    """Whether the media type `content_type` (lower case, no parameters) is one of `accepted`;
    where JSON is, a structured `application/…+json` type is too (browsers must ask before sending it)."""
    if content_type in accepted:
        return True
    return JSON in accepted and content_type.startswith("application/") and content_type.endswith("+json")


@web.middleware
async def media_type_check(request: web.Request, handler: Handler) -> web.StreamResponse:
    """415 for a request body (POST, PUT, PATCH, DELETE) its route does not take."""
    if request.method not in _BODY_METHODS or not request.body_exists:
        return await handler(request)
    if request.match_info.http_exception is not None:
        return await handler(request)  # no such route: its 404/405 says more
    accepted = accepted_media_types(request)
    given = request.headers.get(hdrs.CONTENT_TYPE)
    if given is None or not is_accepted(request.content_type.lower(), accepted):
        what = "a body without Content-Type" if given is None else f"Content-Type {given[:100]!r}"
        return error_response(UnsupportedMediaType(
            f"{request.method} {request.path} does not take {what}: send the body as "
            f"{' or '.join(accepted)} with that Content-Type header"
        ))  # fmt: skip
    return await handler(request)

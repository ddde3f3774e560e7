"""What every handler needs: the Repository and the caller, taken from the request."""

from __future__ import annotations

from typing import TypedDict

from aiohttp import web

from titan_core.api import params
from titan_core.auth import Principal
from titan_core.caller import PRINCIPAL, principal
from titan_core.keys import REPOSITORY
from titan_core.store.repository import Repository

__all__ = [
    "PRINCIPAL",
    "GuardedWriteAs",
    "WriteAs",
    "guarded_write_as",
    "principal",
    "repository",
    "write_as",
]


def repository(request: web.Request) -> Repository:
    return request.app[REPOSITORY]


class WriteAs(TypedDict):
    """Who writes and through which door: the keyword arguments every Repository write takes."""

    origin: str
    principal: Principal


class GuardedWriteAs(WriteAs):
    """`WriteAs` plus the client's If-Match, for writes to something that already exists."""

    if_match: str | None


def write_as(request: web.Request) -> WriteAs:
    return WriteAs(origin=params.origin(request), principal=principal(request))


def guarded_write_as(request: web.Request) -> GuardedWriteAs:
    return GuardedWriteAs(
        origin=params.origin(request), principal=principal(request), if_match=params.if_match(request)
    )

"""What every handler needs: the Repository and the caller, taken from the request."""

from __future__ import annotations

from aiohttp import web

from titan_core.auth import ANONYMOUS, Principal
from titan_core.keys import REPOSITORY
from titan_core.store.repository import Repository

PRINCIPAL: web.RequestKey[Principal] = web.RequestKey("titan.principal", Principal)


def repository(request: web.Request) -> Repository:
    return request.app[REPOSITORY]


def principal(request: web.Request) -> Principal:
    found: Principal = request.get(PRINCIPAL, ANONYMOUS)
    return found

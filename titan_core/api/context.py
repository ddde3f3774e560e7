"""What every handler needs: the Repository and the caller, taken from the request."""

from __future__ import annotations

from aiohttp import web

from titan_core.caller import PRINCIPAL, principal
from titan_core.keys import REPOSITORY
from titan_core.store.repository import Repository

__all__ = ["PRINCIPAL", "principal", "repository"]


def repository(request: web.Request) -> Repository:
    return request.app[REPOSITORY]

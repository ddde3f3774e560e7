"""Who made a request: the `Principal` the access control (`api/authorization.py`) put on it.

Below the API and the delivery layer alike, so the `/events` handlers (`titan_core.delivery`) read
the caller without importing the API above them.
"""

from __future__ import annotations

from aiohttp import web

from titan_core.auth import ANONYMOUS, Principal

PRINCIPAL: web.RequestKey[Principal] = web.RequestKey("titan.principal", Principal)


def principal(request: web.Request) -> Principal:
    """The request's principal; `ANONYMOUS` (all roles) when authentication is off and none was set."""
    found: Principal = request.get(PRINCIPAL, ANONYMOUS)
    return found

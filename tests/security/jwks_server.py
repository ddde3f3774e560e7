"""A JWKS endpoint served on a free local port, for the tests of key fetching and rotation."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from aiohttp import web
from aiohttp.test_utils import TestServer


@asynccontextmanager
async def serve_jwks(handle: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> AsyncIterator[str]:
    """Serves `handle` at `/jwks.json` until the block ends; yields that URL."""
    app = web.Application()
    app.router.add_get("/jwks.json", handle)
    server = TestServer(app)
    await server.start_server()
    try:
        yield str(server.make_url("/jwks.json"))
    finally:
        await server.close()

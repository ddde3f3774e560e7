"""The event loop `titan serve` runs on: uvloop (libuv, in C) where it is installed, else asyncio's.

On uvloop a server answers small requests with less CPU: at 16 clients a Discovery lookup took
0.11 ms of server CPU instead of 0.13 (8,500-8,800 lookups/s instead of 7,300-7,600) and
`GET /shells/{id}` 10,100/s instead of 8,600/s. Large answers gain nothing: a registry page of 170
KB costs 0.23-0.24 ms either way, as copying it dominates (docs/performance.md, "Registry pages,
sixth pass"). aiohttp, asyncpg and redis-py support uvloop. Only serving loops use it: the CLI's
other commands and the parent of workers keep asyncio's, as do the tests' in-process apps, so both
loops stay covered by the suite.
"""

from __future__ import annotations

import asyncio

# The `event_loop` setting's values.
AUTO, UVLOOP, ASYNCIO = "auto", "uvloop", "asyncio"
EVENT_LOOPS = (AUTO, UVLOOP, ASYNCIO)


class EventLoopUnavailable(RuntimeError):
    """`event_loop = "uvloop"` where uvloop is not installed."""


def new_serving_loop(choice: str) -> asyncio.AbstractEventLoop:
    """A new event loop of the kind `choice` names ("auto": uvloop if it can be imported)."""
    if choice == ASYNCIO:
        return asyncio.new_event_loop()
    try:
        import uvloop
    except ImportError as missing:
        if choice == AUTO:
            return asyncio.new_event_loop()
        raise EventLoopUnavailable(
            f"event_loop = {choice!r} needs uvloop, which is not installed ({missing}); "
            "install it (pip install uvloop) or set event_loop to 'auto' or 'asyncio'"
        ) from None
    return uvloop.new_event_loop()


def loop_label(loop: asyncio.AbstractEventLoop) -> str:
    """ "uvloop" or "asyncio", for the start-up line."""
    return "uvloop" if type(loop).__module__.startswith("uvloop") else "asyncio"

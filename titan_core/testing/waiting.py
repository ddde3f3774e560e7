"""Waiting in tests: for a condition, with a deadline and a message that says what did not happen."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable

_POLL_S = 0.01


async def wait_for_delivery(
    done: Callable[[], bool | Awaitable[bool]],
    *,
    message: str | Callable[[], str],
    timeout: float = 10.0,
) -> None:
    """Return once `done()` is true; raise `AssertionError` with `message` after `timeout` seconds.

    `done` may be async. `message` may be a callable, called only on failure, so it can describe
    what did arrive (`lambda: f"got {sink.seqs}"`).
    """
    deadline = time.monotonic() + timeout
    while True:
        outcome = done()
        if inspect.isawaitable(outcome):
            outcome = await outcome
        if outcome:
            return
        if time.monotonic() > deadline:
            text = message() if callable(message) else message
            raise AssertionError(f"not within {timeout:g} s: {text}")
        await asyncio.sleep(_POLL_S)

"""Ending the background tasks the core starts (relay, listeners, probes, position writers).

A task is cancelled and then awaited, so that it has finished (its `finally` blocks run) before
its owner goes on closing what the task used; its own `CancelledError` is the expected end.
"""

from __future__ import annotations

import asyncio
import contextlib


async def cancel_and_wait(task: asyncio.Task[None]) -> None:
    """Cancel `task` and wait until it has ended."""
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def finish_or_cancel(task: asyncio.Task[None], grace: float) -> None:
    """Let `task` end by itself for up to `grace` seconds (a round in progress completes), then
    cancel it. The task is shielded meanwhile: running out of grace does not cancel it half-way."""
    with contextlib.suppress(TimeoutError, asyncio.CancelledError):
        await asyncio.wait_for(asyncio.shield(task), grace)
    await cancel_and_wait(task)

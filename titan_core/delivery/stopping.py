"""Stopping background tasks for sure: cancel until they are done, not once.

A cancellation can be lost inside a library (Python 3.11's `asyncio.wait_for` returns a result
that arrived together with the cancellation; redis-py was seen to go on after one under load), and
a task that missed its single `cancel()` keeps running while the caller waits for it for ever.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import Any

log = logging.getLogger(__name__)

# How long to give cancelled tasks before cancelling them again.
_RECANCEL_AFTER_S = 0.5


async def cancel_and_wait(tasks: Iterable[asyncio.Task[Any]]) -> None:
    """Cancel `tasks` and wait until every one has finished, cancelling again the ones that go on.

    Exceptions other than the cancellation are logged, not raised: the caller is shutting down.
    """
    every = list(tasks)
    pending = {task for task in every if not task.done()}
    while pending:
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=_RECANCEL_AFTER_S)
        for task in pending:
            log.warning("task %s did not stop when cancelled; cancelling it again", task.get_name())
    for task in every:
        if not task.cancelled() and task.exception() is not None:
            log.error("task %s failed while stopping", task.get_name(), exc_info=task.exception())

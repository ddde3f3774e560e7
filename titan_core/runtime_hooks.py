"""Calls hook implementations one at a time, in pluggy's order, awaiting what they return.

Pluggy never awaits: with `firstresult` it would stop at the first coroutine, which is not None.
So runtime hooks (`titan_authenticate`, `titan_health`) go through these helpers instead.
"""

from __future__ import annotations

import inspect
from typing import Any

from pluggy import HookCaller, HookImpl


def implementations(caller: HookCaller) -> list[HookImpl]:
    """The implementations of one hook in the order pluggy would call them.

    `get_hookimpls()` lists them in registration order with `tryfirst` ones last; pluggy's own
    call loop walks that list backwards, and so do we.
    """
    return list(reversed(caller.get_hookimpls()))


def call_implementation(implementation: HookImpl, **kwargs: Any) -> Any:
    """Call one implementation with the hook arguments it declares (a plugin may take fewer)."""
    return implementation.function(*(kwargs[name] for name in implementation.argnames))


async def await_implementation(implementation: HookImpl, **kwargs: Any) -> Any:
    """Call one implementation and, if it returned an awaitable, await it."""
    result = call_implementation(implementation, **kwargs)
    if inspect.isawaitable(result):
        result = await result
    return result


async def first_result(caller: HookCaller, **kwargs: Any) -> Any:
    """The first result that is not None, awaiting each implementation before asking the next.

    An exception ends the call: the remaining implementations do not run.
    """
    for implementation in implementations(caller):
        result = await await_implementation(implementation, **kwargs)
        if result is not None:
            return result
    return None

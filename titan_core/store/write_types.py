"""What the Repository's write paths share: the recorder of changes and the shape of a document edit."""

from collections.abc import Callable, Sequence
from typing import Any, NotRequired, Protocol, TypedDict

from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncConnection

from titan_core.auth import Principal
from titan_core.eventtypes.change import Change


# Evaluated at import (this module has no `from __future__ import annotations`), so that the
# TypedDict knows its required keys at run time: tests/store/test_principal_required.py reads them.
class WriteOptions(TypedDict):
    """The keyword arguments every Repository write takes: who writes (`principal`), through which
    door (`origin`: "rest", "mqtt", "load", …) and, for a change to what exists, the ETag the client
    expects (`if_match`; None or left out: no precondition)."""

    origin: str
    principal: Principal
    if_match: NotRequired[str | None]


# Work inside a write transaction (a plugin's `titan_write_transaction`, injected by the app): given
# the connection, the write's changes, its origin and subject, it writes its own rows and returns
# further changes to store with them.
WriteHook = Callable[[Connection, Sequence[Change], str, "str | None"], "Sequence[Change] | None"]

# A document edit: given the current document (a private copy), return the new one and its changes.
DocumentEdit = Callable[[dict[str, Any]], tuple[dict[str, Any], list[Change]]]


class ChangeRecorder(Protocol):
    """Receives a write's changes inside its transaction (the event outbox implements this)."""

    async def record(
        self,
        connection: AsyncConnection,
        changes: Sequence[Change],
        *,
        origin: str,
        subject: str | None = None,
    ) -> None:
        """`subject`: who made the change (the principal's subject), for the audit trail."""

    def record_in(
        self, connection: Connection, changes: Sequence[Change], *, origin: str, subject: str | None = None
    ) -> None:
        """The same for synchronous code (the group commit's transactions)."""

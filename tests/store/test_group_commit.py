"""The group commit on its own: it is handed the database and a change recorder, never the Repository.

Value writes submitted together share one transaction, yet each keeps its own If-Match check,
version and events, and a refused write fails alone.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection

from titan_core.auth import ANONYMOUS
from titan_core.errors import NotFound, PreconditionFailed
from titan_core.eventtypes.change import Change
from titan_core.store.database import Database
from titan_core.store.group_commit import GroupCommitter
from titan_core.store.records import StoredIdentifiable
from titan_core.store.repository import Repository
from titan_core.store.write_types import DocumentEdit

SM_ID = "urn:test:group-commit"
SUBMODEL = {
    "modelType": "Submodel",
    "id": SM_ID,
    "idShort": "Motor",
    "submodelElements": [{"modelType": "Property", "idShort": "Speed", "valueType": "xs:int", "value": "0"}],
}


class RecordingRecorder:
    """A `ChangeRecorder` that keeps what it is given and the connection it was given it on."""

    def __init__(self) -> None:
        self.runs: list[tuple[str, str | None, list[Change]]] = []
        self.connections: list[Connection] = []

    async def record(self, *_: Any, **__: Any) -> None:
        raise AssertionError("the group commit records synchronously, in its own transaction")

    def record_in(
        self, connection: Connection, changes: Sequence[Change], *, origin: str, subject: str | None = None
    ) -> None:
        self.runs.append((origin, subject, list(changes)))
        self.connections.append(connection)


def set_speed(value: str) -> DocumentEdit:
    def edit(document: dict[str, Any]) -> tuple[dict[str, Any], list[Change]]:
        document["submodelElements"][0]["value"] = value
        change = Change(type="valueChanged", entity="element", identifier=SM_ID, path="Speed", data=value)
        return document, [change]

    return edit


async def test_writes_submitted_together_share_one_transaction_and_each_keeps_its_if_match(
    database: Database,
) -> None:
    created = await Repository(database).create("submodel", SUBMODEL, origin="load", principal=ANONYMOUS)
    recorder = RecordingRecorder()
    committer = GroupCommitter(database, recorder)

    first, stale, third = await asyncio.gather(
        committer.submit(
            "submodel", SM_ID, set_speed("1"), origin="mqtt", subject="a", if_match=created.etag
        ),
        # Still names the version before `first`, which the batch has applied by then.
        committer.submit(
            "submodel", SM_ID, set_speed("2"), origin="mqtt", subject="a", if_match=created.etag
        ),
        committer.submit("submodel", SM_ID, set_speed("3"), origin="mqtt", subject="b", if_match=None),
        return_exceptions=True,
    )

    assert isinstance(stale, PreconditionFailed), stale
    assert isinstance(first, StoredIdentifiable) and isinstance(third, StoredIdentifiable)
    # The document was stored once, after both accepted writes, each counting as a version.
    assert first.version == third.version == created.version + 2
    stored = await Repository(database).get("submodel", SM_ID, principal=ANONYMOUS)
    assert stored.version == created.version + 2
    assert stored.document()["submodelElements"][0]["value"] == "3"
    # One insert per author, in arrival order, on the one connection of one transaction.
    assert [
        (origin, subject, [change.data for change in changes]) for origin, subject, changes in recorder.runs
    ] == [
        ("mqtt", "a", ["1"]),
        ("mqtt", "b", ["3"]),
    ]
    assert len({id(connection) for connection in recorder.connections}) == 1


async def test_a_write_to_a_missing_identifiable_fails_alone(database: Database) -> None:
    await Repository(database).create("submodel", SUBMODEL, origin="load", principal=ANONYMOUS)
    recorder = RecordingRecorder()
    committer = GroupCommitter(database, recorder)

    missing, kept = await asyncio.gather(
        committer.submit(
            "submodel", "urn:test:absent", set_speed("9"), origin="mqtt", subject="a", if_match=None
        ),
        committer.submit("submodel", SM_ID, set_speed("7"), origin="mqtt", subject="a", if_match=None),
        return_exceptions=True,
    )

    assert isinstance(missing, NotFound) and "urn:test:absent" in str(missing), missing
    assert isinstance(kept, StoredIdentifiable) and kept.document()["submodelElements"][0]["value"] == "7"
    assert [run[:2] for run in recorder.runs] == [("mqtt", "a")]

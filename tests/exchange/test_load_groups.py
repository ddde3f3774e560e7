"""`titan load` stores several files per transaction: each file stays whole or absent, a refusal while
storing touches its own file only, every stored change has its events, and the summary adds up."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Hashable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from titan_core.auth import ANONYMOUS
from titan_core.errors import Forbidden
from titan_core.load_groups import (
    MAX_GROUP_BYTES,
    MAX_GROUP_FILES,
    Prepared,
    Stored,
    groups,
    store_group,
    stored_in_parallel,
)
from titan_core.loader import PreparedFile, load_paths, prepare_file
from titan_core.settings import Settings
from titan_core.store.database import Database
from titan_core.store.repository import ImportCounts, Repository
from titan_core.store.tables import event_outbox, identifiables


def _submodel(identifier: str) -> dict[str, Any]:
    return {"id": identifier, "idShort": "S", "modelType": "Submodel"}


def _write_files(folder: Path, count: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for number in range(count):
        path = folder / f"f{number:03d}.json"
        submodels = [_submodel(f"urn:sm:{number}:a"), _submodel(f"urn:sm:{number}:b")]
        path.write_text(json.dumps({"submodels": submodels}))
        paths.append(path)
    return paths


async def _stored_ids(database: Database) -> list[str]:
    async with database.read() as connection:
        rows = await connection.execute(
            select(identifiables.c.identifier).order_by(identifiables.c.identifier)
        )
        return list(rows.scalars())


async def _event_count(database: Database) -> int:
    async with database.read() as connection:
        return int((await connection.execute(select(func.count()).select_from(event_outbox))).scalar_one())


async def test_a_file_refused_while_storing_leaves_its_group_neighbours_stored(
    database: Database, tmp_path: Path
) -> None:
    paths = _write_files(tmp_path, 5)
    group: list[Prepared] = [prepare_file(path, lenient=False) for path in paths]
    repository = Repository(database)
    refused = group[2]
    attempts: list[int] = []

    async def import_many(connection: AsyncConnection, items: list[Prepared]) -> list[ImportCounts]:
        prepared = [item for item in items if isinstance(item, PreparedFile)]
        assert len(prepared) == len(items)
        counts = await repository.import_environments(
            connection, [(item.environment, item.files) for item in prepared], "load", ANONYMOUS
        )
        if refused in items:
            attempts.append(1)
            # Refused after its rows were written: the group transaction must not keep them.
            raise Forbidden("not allowed to write urn:sm:2:a")
        return counts

    outcomes = await store_group(database, group, import_many)

    assert [outcome.counts.created if outcome.counts else None for outcome in outcomes] == [2, 2, None, 2, 2]
    assert outcomes[2].error == "refused: not allowed to write urn:sm:2:a"
    assert len(attempts) == 2  # in the group, then alone
    expected = sorted(f"urn:sm:{n}:{x}" for n in (0, 1, 3, 4) for x in "ab")
    assert await _stored_ids(database) == expected
    # One `created` event per stored submodel: the rolled-back group left none behind.
    assert await _event_count(database) == len(expected)


async def test_a_file_refused_before_storing_keeps_its_error_and_the_group_is_stored(
    database: Database, tmp_path: Path
) -> None:
    paths = _write_files(tmp_path, 3)
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    group: list[Prepared] = [prepare_file(path, lenient=False) for path in (paths[0], broken, paths[1])]
    repository = Repository(database)

    async def import_many(connection: AsyncConnection, items: list[Prepared]) -> list[ImportCounts]:
        prepared = [item for item in items if isinstance(item, PreparedFile)]
        assert len(prepared) == len(items)
        environments = [(item.environment, item.files) for item in prepared]
        return await repository.import_environments(connection, environments, "load", ANONYMOUS)

    outcomes = await store_group(database, group, import_many)

    assert outcomes[1].counts is None and outcomes[1].error.startswith("refused: not valid JSON")
    assert [o.counts.created for o in (outcomes[0], outcomes[2]) if o.counts] == [2, 2]
    assert await _stored_ids(database) == ["urn:sm:0:a", "urn:sm:0:b", "urn:sm:1:a", "urn:sm:1:b"]


@dataclass
class _Item:
    error: str = ""
    size: int = 1


class _Files:
    """Prepared files of which only the first `ready` are done; the rest wait for `release`."""

    def __init__(self, items: list[_Item], ready: int) -> None:
        self.items = list(items)
        self.ready = ready
        self.release = asyncio.Event()

    async def next(self) -> Prepared | None:
        if not self.items:
            return None
        if self.ready <= 0:
            await asyncio.wait_for(self.release.wait(), timeout=10)
        self.ready -= 1
        return self.items.pop(0)

    def has_ready(self) -> bool:
        return bool(self.items) and (self.ready > 0 or self.release.is_set())


async def test_groups_end_at_their_bounds_and_never_wait_to_grow() -> None:
    many = _Files([_Item() for _ in range(MAX_GROUP_FILES + 3)], ready=MAX_GROUP_FILES + 3)
    assert [len(group) async for group in groups(many)] == [MAX_GROUP_FILES, 3]

    large = _Files([_Item(size=MAX_GROUP_BYTES // 2 + 1) for _ in range(3)], ready=3)
    assert [len(group) async for group in groups(large)] == [2, 1]

    # Three files ready, two still being prepared: the first group is the three, not five.
    slow = _Files([_Item() for _ in range(5)], ready=3)
    produced = groups(slow)
    assert len(await anext(produced)) == 3
    slow.release.set()
    assert [len(group) async for group in produced] == [2]


@pytest.mark.parametrize("jobs", [1, 2])
async def test_a_load_of_many_files_stores_each_with_its_events_and_sums_up(
    database: Database, settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str], jobs: int
) -> None:
    count = 2 * MAX_GROUP_FILES + 5  # more than one group
    paths = _write_files(tmp_path / "many", count)
    broken = tmp_path / "many" / "f010.json"
    broken.write_text(json.dumps({"submodels": [{"id": "", "modelType": "Submodel"}]}))

    code = await load_paths(settings, [tmp_path / "many"], lenient=False, jobs=jobs, progress=False)

    out, err = capsys.readouterr()
    assert code == 1
    stored = 2 * (count - 1)
    summary = out.strip().splitlines()[-1]
    assert summary.startswith(
        f"titan load: {count} files; {stored} created, 0 updated, 0 unchanged, 1 refused; "
    )
    assert f"titan load: {broken}: refused: " in err
    lines = [line for line in out.splitlines() if line.endswith("2 created, 0 updated, 0 unchanged")]
    assert lines == [f"{path}: 2 created, 0 updated, 0 unchanged" for path in paths if path != broken]
    assert len(await _stored_ids(database)) == stored
    assert await _event_count(database) == stored


async def _events(database: Database) -> list[tuple[str, str]]:
    """(event type, titanid) of every outbox row, in insertion order."""
    async with database.read() as connection:
        rows = await connection.execute(
            select(event_outbox.c.envelope, event_outbox.c.titan_id).order_by(event_outbox.c.id)
        )
        return [(json.loads(row.envelope)["type"].rsplit(".", 1)[-1], row.titan_id) for row in rows]


def _with_value(identifier: str, value: str) -> dict[str, Any]:
    element = {"idShort": "P", "modelType": "Property", "valueType": "xs:string", "value": value}
    return {**_submodel(identifier), "submodelElements": [element]}


async def test_environments_imported_together_count_and_record_as_one_after_the_other(
    database: Database,
) -> None:
    repository = Repository(database)
    async with database.write() as connection:
        await repository.import_environments(
            connection, [({"submodels": [_with_value("urn:sm:old", "1"), _submodel("urn:sm:same")]}, [])],
            "load", ANONYMOUS,
        )  # fmt: skip
    environments: list[dict[str, Any]] = [
        {"submodels": [_with_value("urn:sm:new:a", "w"), _with_value("urn:sm:old", "2")]},
        {"submodels": [_submodel("urn:sm:same"), _submodel("urn:sm:new:b"), _submodel("urn:sm:new:b")]},
        # Names what the first environment created: imported after it, so it updates it.
        {"submodels": [_with_value("urn:sm:new:a", "x")]},
    ]
    async with database.write() as connection:
        counts = await repository.import_environments(
            connection, [(environment, []) for environment in environments], "load", ANONYMOUS
        )

    assert [(c.created, c.updated, c.unchanged) for c in counts] == [(1, 1, 0), (1, 1, 1), (0, 1, 0)]
    assert [c.identifiables for c in counts] == [
        [("submodel", "urn:sm:new:a"), ("submodel", "urn:sm:old")],
        [("submodel", "urn:sm:same"), ("submodel", "urn:sm:new:b"), ("submodel", "urn:sm:new:b")],
        [("submodel", "urn:sm:new:a")],
    ]
    assert (await _events(database))[2:] == [
        ("created", "urn:sm:new:a"),
        ("updated", "urn:sm:old"),
        ("valueChanged", "urn:sm:old"),
        ("created", "urn:sm:new:b"),
        ("updated", "urn:sm:new:a"),
        ("valueChanged", "urn:sm:new:a"),
    ]
    stored = await repository.get("submodel", "urn:sm:new:a", principal=ANONYMOUS)
    assert stored.document()["submodelElements"][0]["value"] == "x"


@dataclass
class _Keyed:
    keys: set[str]
    error: str = ""
    size: int = 1


async def test_groups_are_stored_in_parallel_unless_they_share_an_identifiable() -> None:
    batches: list[list[Prepared]] = [
        [_Keyed({"a"})],
        [_Keyed({"b"})],
        [_Keyed({"c", "a"})],  # shares "a" with the first: starts once the groups before it ended
    ]
    started: list[int] = []
    finish = {number: asyncio.Event() for number in range(len(batches))}

    async def store(group: list[Prepared]) -> list[Stored]:
        number = next(n for n, batch in enumerate(batches) if batch is group)
        started.append(number)
        await asyncio.wait_for(finish[number].wait(), timeout=10)
        return [Stored(ImportCounts(created=number))]

    async def produce() -> AsyncIterator[list[Prepared]]:
        for batch in batches:
            yield batch

    def keys_of(item: Prepared) -> set[Hashable]:
        assert isinstance(item, _Keyed)
        return set(item.keys)

    stored = stored_in_parallel(produce(), store, keys_of, connections=2)
    first = asyncio.ensure_future(anext(stored))
    await _until(lambda: started == [0, 1], "the first two groups were not stored at once")
    finish[1].set()  # the second ends first: still handed out after the first
    await asyncio.sleep(0)
    assert not first.done()
    finish[0].set()
    group, outcomes = await asyncio.wait_for(first, timeout=10)
    assert group is batches[0] and outcomes[0].counts is not None and outcomes[0].counts.created == 0
    assert started == [0, 1]  # the third shares "a": it waited for the first
    second = await asyncio.wait_for(anext(stored), timeout=10)
    assert second[0] is batches[1]
    third = asyncio.ensure_future(anext(stored))
    await _until(lambda: started == [0, 1, 2], "the third group was not stored after the first")
    finish[2].set()
    assert (await asyncio.wait_for(third, timeout=10))[0] is batches[2]
    with pytest.raises(StopAsyncIteration):
        await anext(stored)


async def _until(condition: Callable[[], bool], message: str) -> None:
    async def wait() -> None:
        while not condition():
            await asyncio.sleep(0.001)

    try:
        await asyncio.wait_for(wait(), timeout=10)
    except TimeoutError:
        raise AssertionError(message) from None

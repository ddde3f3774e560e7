"""`titan load` stores several files per transaction: each file stays whole or absent, a refusal while
storing touches its own file only, every stored change has its events, and the summary adds up."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from titan_core.auth import ANONYMOUS
from titan_core.errors import Forbidden
from titan_core.load_groups import MAX_GROUP_BYTES, MAX_GROUP_FILES, Prepared, groups, store_group
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

    async def import_one(connection: AsyncConnection, item: Prepared) -> ImportCounts:
        prepared = item if isinstance(item, PreparedFile) else None
        assert prepared is not None
        counts = await repository.import_environment(
            prepared.environment,
            files=prepared.files,
            origin="load",
            principal=ANONYMOUS,
            connection=connection,
        )
        if item is refused:
            attempts.append(1)
            # Refused after its rows were written: the group transaction must not keep them.
            raise Forbidden("not allowed to write urn:sm:2:a")
        return counts

    outcomes = await store_group(database, group, import_one)

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

    async def import_one(connection: AsyncConnection, item: Prepared) -> ImportCounts:
        assert isinstance(item, PreparedFile)
        return await repository.import_environment(
            item.environment, origin="load", principal=ANONYMOUS, connection=connection
        )

    outcomes = await store_group(database, group, import_one)

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

"""`titan load`'s storing side: several prepared files per transaction, each still whole or not at all.

A transaction per file costs PostgreSQL a commit (a WAL flush) and the loader two round trips each;
for small packages that was a third of a load. So consecutive files are imported in one
transaction. If any file of a group is refused while storing, the whole group is rolled back and
its files are imported again one transaction each, so the refusal touches that file only and every
other file is stored as if loaded alone. A crash loses at most the group being stored, of which no
file has been reported as stored yet. Events are recorded in the transaction that stores their
change, as for any write.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Hashable
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncConnection

from titan_core.errors import TitanError
from titan_core.store.database import Database
from titan_core.store.repository import ImportCounts

# A group ends at this many files or once its files take this many bytes on disk (a few large
# packages are stored one per transaction; memory holds at most one group's content).
MAX_GROUP_FILES = 16
MAX_GROUP_BYTES = 16 * 1024 * 1024


class Prepared(Protocol):
    """What the grouping needs of a prepared file."""

    error: str
    size: int


@dataclass
class Stored:
    counts: ImportCounts | None  # None: refused (the message is in `error`)
    error: str = ""


# Imports prepared files in the transaction of `connection`: their counts, in order.
ImportMany = Callable[[AsyncConnection, list[Prepared]], Awaitable[list[ImportCounts]]]


class ReadyFiles(Protocol):
    async def next(self) -> Prepared | None: ...

    def has_ready(self) -> bool:
        """Whether `next()` would answer without waiting for a file still being prepared."""
        ...


async def groups(files: ReadyFiles) -> AsyncIterator[list[Prepared]]:
    """Consecutive files, grouped while they are ready and the group is under its bounds: a load
    never waits for a file to be prepared just to make a group larger."""
    while (first := await files.next()) is not None:
        group = [first]
        size = first.size
        while len(group) < MAX_GROUP_FILES and size < MAX_GROUP_BYTES and files.has_ready():
            item = await files.next()
            if item is None:
                break
            group.append(item)
            size += item.size
        yield group


async def stored_in_parallel(
    batches: AsyncIterator[list[Prepared]],
    store: Callable[[list[Prepared]], Coroutine[Any, Any, list[Stored]]],
    keys_of: Callable[[Prepared], set[Hashable]],
    *,
    connections: int,
) -> AsyncIterator[tuple[list[Prepared], list[Stored]]]:
    """Each group with what `store` made of it, in order, with up to `connections` groups being
    stored at once (each in its own transaction).

    One writer leaves the database idle while Titan builds a group's rows and Titan idle while the
    database stores them; two overlap the two. Groups stored at once name distinct identifiables
    (`keys_of`): one that shares an identifiable with a group in flight waits for it, so a file
    that updates what an earlier file created still comes after it, and no two transactions wait
    for each other's row locks.
    """
    in_flight: collections.deque[tuple[list[Prepared], set[Hashable], asyncio.Task[list[Stored]]]]
    in_flight = collections.deque()
    try:
        async for group in batches:
            keys = set().union(*map(keys_of, group))
            if any(not keys.isdisjoint(busy) for _group, busy, _task in in_flight):
                while in_flight:
                    done, _keys, task = in_flight.popleft()
                    yield done, await task
            in_flight.append((group, keys, asyncio.create_task(store(group))))
            while len(in_flight) >= connections:
                done, _keys, task = in_flight.popleft()
                yield done, await task
        while in_flight:
            done, _keys, task = in_flight.popleft()
            yield done, await task
    finally:
        for _group, _keys, task in in_flight:
            task.cancel()
        await asyncio.gather(*(task for _group, _keys, task in in_flight), return_exceptions=True)


async def store_group(database: Database, group: list[Prepared], import_many: ImportMany) -> list[Stored]:
    """Store the files of `group` that were prepared without error; one `Stored` per file, in order
    (a file refused before storing keeps its error and is not stored)."""
    storable = [item for item in group if not item.error]
    if len(storable) <= 1:
        return [await _store_alone(database, item, import_many) for item in group]
    try:
        async with database.write() as connection:
            counts = await import_many(connection, storable)
    except TitanError:
        # Rolled back: each file again on its own, so one refusal does not refuse its neighbours.
        return [await _store_alone(database, item, import_many) for item in group]
    by_file = dict(zip(map(id, storable), counts, strict=True))
    return [Stored(by_file[id(item)]) if not item.error else Stored(None, item.error) for item in group]


async def _store_alone(database: Database, item: Prepared, import_many: ImportMany) -> Stored:
    if item.error:
        return Stored(None, item.error)
    try:
        async with database.write() as connection:
            return Stored((await import_many(connection, [item]))[0])
    except TitanError as exc:
        return Stored(None, f"refused: {exc}")

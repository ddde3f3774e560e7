"""The start-up back-fill: derived links for the shells the write hook never saw.

While the plugin runs, the write hook keeps every shell's derived links in step (feed.py). Shells
written while it did not run — stored before it was installed, while `TITAN_DISABLE_PLUGINS` named
it, by a `titan load` without it — have missing or stale links, and shells deleted meanwhile left
theirs behind. So at every start the plugin compares, in the background, each stored shell's links
with its rows and writes only what differs, through the Repository like any other plugin write:

1. Every shell, a page at a time (`Repository.page`, a read): its links against its derived rows
   (one read of the plugin's table per page). Where nothing differs, nothing is written.
2. The shells that differ are read again in a write transaction (`PluginTransaction.identifiables`,
   which locks them against the core's writes, so a write that came in meanwhile is never undone),
   their links written as the hook writes them (`feed.apply_links`), and their asset_link changes
   recorded in the same transaction: the events the hook would have made, at most one per shell.
3. Ids with derived rows but no shell (deleted while the plugin was away) are looked for only when
   their count differs from the count of shells with links; each chunk of them is checked and
   removed in a write transaction, every link of the id with it, as the hook does on a delete.

Manual links of stored shells are never touched. A second run finds nothing to write.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

from aiohttp import web
from sqlalchemy import Integer, Text, bindparam, distinct, func, select, text

from titan_core.plugin_api import REPOSITORY, ROLE_WRITER, Principal, Repository
from titan_plugin_discovery import store
from titan_plugin_discovery.feed import apply_links, derived_rows
from titan_plugin_discovery.links import AssetLink, derived_links
from titan_plugin_discovery.tables import DERIVED, asset_links

log = logging.getLogger(__name__)

ORIGIN = "plugin:discovery"
# Who the back-fill's events name as their subject: the plugin itself, no caller's credential.
PRINCIPAL = Principal(subject="plugin:discovery", roles=frozenset({ROLE_WRITER}))
# Shells per page read: bounded memory (a page's bodies), and few statements per shell.
CHUNK = 500
# Shells per write transaction: its links, its events and their envelopes are built on the event
# loop and the write lock (SQLite's one writer, or the rows locked on PostgreSQL) is held meanwhile,
# so a transaction of 100 keeps both to about 15 ms; one of 500 took about 80 ms.
WRITE_CHUNK = 100
# After a failure (the database away at start-up), the back-fill runs again this much later.
RETRY_SECONDS = 30.0
# Re-derived shells after which PostgreSQL's statistics of the table are refreshed (see _analyze).
_ANALYZE_AT = frozenset(10**power for power in range(3, 9))

_DERIVED_IDS = (
    select(asset_links.c.shell_id)
    .distinct()
    .where(asset_links.c.source == DERIVED, asset_links.c.shell_id > bindparam("after", type_=Text))
    .order_by(asset_links.c.shell_id)
    .limit(bindparam("limit", type_=Integer))
)
_COUNT_DERIVED_IDS = select(func.count(distinct(asset_links.c.shell_id))).where(
    asset_links.c.source == DERIVED
)


@dataclass
class BackfillProgress:
    """What the back-fill of this start has done so far (the plugin's `/ready` report)."""

    checked: int = 0
    """Shells compared with their rows."""
    rederived: int = 0
    """Shells whose derived links differed and were written again."""
    removed: int = 0
    """Ids of shells deleted while the plugin was away whose links were removed."""
    events: int = 0
    """asset_link changes recorded."""
    started: float = 0.0
    finished: float | None = None
    error: str = ""

    def describe(self) -> str:
        state = "done" if self.finished is not None else "running"
        elapsed = (self.finished or time.monotonic()) - self.started if self.started else 0.0
        text = (
            f"back-fill {state}: {self.checked} shells checked, {self.rederived} re-derived, "
            f"{self.removed} deleted shells' links removed, {self.events} asset_link events, "
            f"{elapsed:.1f} s"
        )
        return f"{text}; last attempt failed: {self.error}" if self.error else text


BACKFILL: web.AppKey[BackfillProgress] = web.AppKey("titan_plugin_discovery.backfill", BackfillProgress)


async def backfill(
    repository: Repository, progress: BackfillProgress | None = None, *, chunk: int = CHUNK
) -> BackfillProgress:
    """Bring every shell's derived links up to date and remove those of deleted shells; see above."""
    progress = progress if progress is not None else BackfillProgress()
    progress.started = progress.started or time.monotonic()
    with_links = await _rederive_shells(repository, progress, chunk)
    async with repository.reading() as connection:
        derived_ids = (await connection.execute(_COUNT_DERIVED_IDS)).scalar_one()
    if derived_ids != with_links:
        await _remove_links_of_deleted_shells(repository, progress, chunk)
    progress.finished = time.monotonic()
    return progress


async def _rederive_shells(repository: Repository, progress: BackfillProgress, chunk: int) -> int:
    """Step 1 and 2 over every shell; the number of shells that have links."""
    with_links = 0
    cursor: str | None = None
    while True:
        page = await repository.page("shell", limit=chunk, cursor=cursor, principal=PRINCIPAL)
        wanted = {shell.identifier: derived_links(shell.document()) for shell in page.items}
        async with repository.reading() as connection:
            stored = await connection.run_sync(store.rows_of, list(wanted))
        stale = [
            shell_id
            for shell_id, links in wanted.items()
            if derived_rows(stored.get(shell_id, [])) != store.link_rows(shell_id, DERIVED, links)
        ]
        step = min(chunk, WRITE_CHUNK)
        for start in range(0, len(stale), step):
            await _rederive(repository, progress, stale[start : start + step])
        with_links += sum(1 for links in wanted.values() if links)
        progress.checked += len(page.items)
        if page.next_cursor is None:
            return with_links
        cursor = page.next_cursor


async def _rederive(repository: Repository, progress: BackfillProgress, shell_ids: list[str]) -> None:
    async with repository.transaction(PRINCIPAL, origin=ORIGIN) as transaction:
        # As stored now, and locked until the commit: a shell written since the page was read is
        # derived from its new state (or was already, by the hook), never from the page's.
        current = await transaction.identifiables("shell", shell_ids)
        # A shell deleted since the page was read is left alone: the hook removed its links.
        wanted: dict[str, list[AssetLink] | None] = {
            shell.identifier: derived_links(shell.document()) for shell in current
        }
        made = await transaction.connection.run_sync(apply_links, wanted)
        transaction.record(*made)
    before = progress.rederived
    progress.rederived += len(wanted)
    progress.events += len(made)
    if any(before < mark <= progress.rederived for mark in _ANALYZE_AT):
        await _analyze(repository)


async def _analyze(repository: Repository) -> None:
    """Refresh PostgreSQL's statistics of the table the back-fill is filling.

    A table never analyzed (just created by the plugin's migration, and autovacuum off or not yet
    come round) makes PostgreSQL guess that `shell_id IN (500 ids)` matches most of it, so it scans
    the whole table for every chunk: the first back-fill of 100,000 shells then took over ten
    minutes instead of one. Fresh statistics after 1,000, 10,000, … shells keep it on the index.
    SQLite uses the primary key for such lookups without statistics.
    """
    async with repository.transaction(PRINCIPAL, origin=ORIGIN) as transaction:
        if transaction.connection.dialect.name == "postgresql":
            await transaction.connection.execute(text(f"ANALYZE {asset_links.name}"))


# PostgreSQL advisory lock (transaction-scoped) of the back-fill's removals; the key is this plugin's own.
_REMOVAL_LOCK = text("SELECT pg_advisory_xact_lock(7406219840512530243)")


async def _remove_links_of_deleted_shells(
    repository: Repository, progress: BackfillProgress, chunk: int
) -> None:
    after = ""
    while True:
        async with repository.reading() as connection:
            result = await connection.execute(
                _DERIVED_IDS, {"after": after, "limit": min(chunk, WRITE_CHUNK)}
            )
            shell_ids = [row.shell_id for row in result]
        if not shell_ids:
            return
        async with repository.transaction(PRINCIPAL, origin=ORIGIN) as transaction:
            if transaction.connection.dialect.name == "postgresql":
                # A deleted shell has no row for `identifiables` to lock, so instances (or workers)
                # starting together would each remove its links and each record the event. One
                # removal at a time: the next one re-reads the rows (apply_links) and finds none.
                await transaction.connection.execute(_REMOVAL_LOCK)
            present = {shell.identifier for shell in await transaction.identifiables("shell", shell_ids)}
            gone: dict[str, list[AssetLink] | None] = {
                shell_id: None for shell_id in shell_ids if shell_id not in present
            }
            made = await transaction.connection.run_sync(apply_links, gone) if gone else []
            transaction.record(*made)
        progress.removed += len(gone)
        progress.events += len(made)
        after = shell_ids[-1]


async def backfill_context(app: web.Application) -> AsyncIterator[None]:
    """The app's `cleanup_ctx` entry: the back-fill runs beside the server, cancelled at shutdown."""
    task = asyncio.create_task(_run(app[REPOSITORY], app[BACKFILL]), name="discovery back-fill")
    yield
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def _run(repository: Repository, progress: BackfillProgress) -> None:
    log.info("discovery: checking the derived asset links of every shell (back-fill)")
    while True:
        try:
            await backfill(repository, progress, chunk=CHUNK)
        except Exception as error:  # the database away, for one: try again rather than give up
            progress.error = f"{type(error).__name__}: {error}"
            log.exception("discovery back-fill failed; it runs again in %.0f s", RETRY_SECONDS)
            await asyncio.sleep(RETRY_SECONDS)
            continue
        progress.error = ""
        log.info("discovery: %s", progress.describe())
        return

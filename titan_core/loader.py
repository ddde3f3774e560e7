"""`titan load`: upserts the shells, submodels and concept descriptions of environment files.

JSON, XML and AASX files (in an AASX the files its File values name become attachments). Each file is
stored whole or not at all (consecutive files share a transaction: `load_groups`); files are read and
verified in worker processes (`--jobs`) while this one stores them. Strict by default. Real published
files often break small rules (empty strings, empty lists); `--lenient` stores them anyway and reports
every violation, so nothing invalid enters silently. No file is skipped without a line saying so.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import os
import sys
import time
from collections.abc import AsyncIterator, Hashable, Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO, cast

from sqlalchemy.ext.asyncio import AsyncConnection

from titan_core.auth import ALL_ROLES, ANONYMOUS, Principal
from titan_core.errors import BadRequest, TitanError
from titan_core.exchange.aasx import read_aasx
from titan_core.exchange.files import take_package_files
from titan_core.exchange.limits import DEFAULT_LIMITS, ImportLimits
from titan_core.exchange.xml import read_xml_environment
from titan_core.json_text import loads_json
from titan_core.load_groups import (
    MAX_GROUP_FILES,
    ImportMany,
    Prepared,
    Stored,
    groups,
    store_group,
    stored_in_parallel,
)
from titan_core.model.verify import parse_and_verify
from titan_core.plugins import store_wiring
from titan_core.settings import Settings
from titan_core.store.database import Database, open_database
from titan_core.store.environment_import import SECTIONS, FileAttachment
from titan_core.store.outbox import OutboxRecorder
from titan_core.store.repository import ImportCounts, Repository

SUFFIXES = (".json", ".xml", ".aasx")
# Groups of files stored at once on PostgreSQL, each in its own transaction: two overlap Titan's work
# on one group with PostgreSQL's on the other (1.2 times the files/s of one, docs/performance.md).
# SQLite has one writer.
STORING_CONNECTIONS = 2


def environment_files(paths: Iterable[Path]) -> tuple[list[Path], list[Path]]:
    """(the files named and the .json/.xml/.aasx files below the folders named, in a stable order;
    the other files below those folders, which are reported as skipped)."""
    found: list[Path] = []
    skipped: list[Path] = []
    for path in paths:
        if path.is_dir():
            for below in sorted(p for p in path.rglob("*") if p.is_file()):
                (found if below.suffix.lower() in SUFFIXES else skipped).append(below)
        else:
            found.append(path)
    return found, skipped


def read_environment(path: Path, *, limits: ImportLimits = DEFAULT_LIMITS) -> Any:
    """The file's environment as Part 2 JSON (XML through aas-core3.0; for AASX see `read_file`)."""
    return read_file(path, limits=limits)[0]


def read_file(path: Path, *, limits: ImportLimits = DEFAULT_LIMITS) -> tuple[Any, list[FileAttachment]]:
    """The file's environment as Part 2 JSON and, for a package, the attachments its Files name."""
    suffix = path.suffix.lower()
    if suffix == ".aasx":
        package = read_aasx(str(path), str(path), limits=limits)
        files = take_package_files(package)
        return package.environment, [(f.kind, f.identifier, f.path, f.attachment) for f in files]
    if suffix == ".xml":
        with path.open("rb") as stream:
            return read_xml_environment(stream, str(path), limits=limits), []
    try:
        return loads_json(path.read_text(encoding="utf-8")), []
    except BadRequest as exc:
        raise TitanError(exc.message, status=400) from None
    except UnicodeDecodeError as exc:
        raise TitanError(f"not UTF-8 text (byte {exc.start})", status=400) from None
    except json.JSONDecodeError as exc:
        raise TitanError(f"not valid JSON: {exc.msg} at line {exc.lineno}", status=400) from None
    except RecursionError:
        raise TitanError("the JSON is nested too deeply to be processed", status=400) from None


@dataclass
class PreparedFile:
    """A file read and verified, ready to import (picklable: `--jobs` prepares files in other processes)."""

    path: Path
    environment: dict[str, Any] = field(default_factory=dict)
    files: list[FileAttachment] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    error: str = ""
    suggest_lenient: bool = False
    size: int = 0  # bytes on disk: what bounds how many files are held at once


def prepare_file(path: Path, lenient: bool, limits: ImportLimits = DEFAULT_LIMITS) -> PreparedFile:
    prepared = _prepare(path, lenient, limits)
    with contextlib.suppress(OSError):
        prepared.size = path.stat().st_size
    return prepared


def _prepare(path: Path, lenient: bool, limits: ImportLimits) -> PreparedFile:
    try:
        environment, files = read_file(path, limits=limits)
        verified = parse_and_verify("environment", environment, lenient=lenient)
    except FileNotFoundError:
        return PreparedFile(path, error="no such file")
    except IsADirectoryError:
        return PreparedFile(path, error="is a directory")
    except TitanError as exc:
        return PreparedFile(
            path,
            error=f"refused: {_without_prefix(str(exc), path)}",
            suggest_lenient=bool(exc.violations) and not lenient,
        )
    return PreparedFile(path, verified.jsonable, files, [str(v) for v in verified.violations])


def _without_prefix(message: str, path: Path) -> str:
    # Readers name the file (a package refusal must, for the REST API too); the CLI line already does.
    prefix = f"{path}: "
    return message[len(prefix) :] if message.startswith(prefix) else message


def operator_principal(operator: str) -> Principal:
    """Who `titan load` writes as: the operator (recorded as the events' subject), with every role,
    since whoever can run it can reach the database anyway."""
    return Principal(subject=operator, roles=ALL_ROLES)


async def load_environment(
    repository: Repository,
    environment: Any,
    *,
    lenient: bool,
    out: TextIO = sys.stdout,
    label: str = "",
    operator: Principal,
) -> dict[str, int]:
    """Verify the environment (strictly unless lenient), then upsert every identifiable in it
    as `operator` (the subject of the events it causes)."""
    verified = parse_and_verify("environment", environment, lenient=lenient)
    for violation in verified.violations:
        print(f"{label}: stored despite violation: {violation}", file=out)
    counts = await repository.import_environment(verified.jsonable, origin="load", principal=operator)
    return {"created": counts.created, "updated": counts.updated, "unchanged": counts.unchanged}


def default_jobs() -> int:
    """Worker processes for `titan load` without `--jobs`: two where there are two cores.

    Reading and verifying a package (aas-core3.0, pure Python) takes more CPU than storing it, so
    with workers the storing process is kept busy while PostgreSQL uses the other core; measured
    (docs/performance.md) 1.6 times the files per second of one process on a 2-core machine. A
    third worker would wait for the storing process, which stays one.
    """
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return 2 if cores >= 2 else 1


class _InProcess:
    """Files prepared one by one in this process, as they are asked for."""

    def __init__(self, paths: list[Path], lenient: bool, limits: ImportLimits) -> None:
        self._paths = iter(paths)
        self._lenient = lenient
        self._limits = limits

    async def next(self) -> PreparedFile | None:
        path = next(self._paths, None)
        return None if path is None else prepare_file(path, self._lenient, self._limits)

    def has_ready(self) -> bool:
        return True


class _InWorkers:
    """Files prepared by `jobs` worker processes ahead of the one storing them, in order.

    At most `ahead` files (and, beyond the first, `MAX_AHEAD_BYTES` of them on disk) are prepared
    and not yet taken, so a slow database does not let prepared files fill the memory.
    """

    MAX_AHEAD_BYTES = 64 * 1024 * 1024

    def __init__(
        self, pool: ProcessPoolExecutor, paths: list[Path], lenient: bool, limits: ImportLimits, jobs: int
    ) -> None:
        self._pool = pool
        self._paths = iter(paths)
        self._lenient = lenient
        self._limits = limits
        self._ahead = 2 * jobs + MAX_GROUP_FILES
        self._pending: collections.deque[tuple[asyncio.Future[PreparedFile], int]] = collections.deque()
        self._pending_bytes = 0
        self._fill()

    def _fill(self) -> None:
        loop = asyncio.get_running_loop()
        while len(self._pending) < self._ahead and (
            not self._pending or self._pending_bytes < self.MAX_AHEAD_BYTES
        ):
            path = next(self._paths, None)
            if path is None:
                return
            size = _size_on_disk(path)
            future = loop.run_in_executor(self._pool, prepare_file, path, self._lenient, self._limits)
            self._pending.append((future, size))
            self._pending_bytes += size

    async def next(self) -> PreparedFile | None:
        if not self._pending:
            return None
        future, size = self._pending.popleft()
        self._pending_bytes -= size
        self._fill()
        return await future

    def has_ready(self) -> bool:
        return bool(self._pending) and self._pending[0][0].done()


def _size_on_disk(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


async def load_paths(
    settings: Settings,
    paths: Iterable[Path],
    *,
    lenient: bool,
    jobs: int = 1,
    operator: str | None = None,
    limits: ImportLimits | None = None,
    progress: bool | None = None,
) -> int:
    """Load every file; exit code 0, 1 when a file was refused, 2 when there was nothing to load.

    `operator` names who loads (None: the anonymous principal)."""
    started = time.monotonic()
    limits = limits or ImportLimits.from_settings(settings)
    files, skipped = environment_files(paths)
    for path in skipped:
        print(f"{path}: skipped: not an AAS file (.json, .xml or .aasx)")
    if not files:
        print("titan load: no .json, .xml or .aasx files found in the paths given", file=sys.stderr)
        return 2
    total = ImportCounts()
    refused = 0
    # Opened (and, for SQLite, its file created) only once a file passed: a typo makes no database.
    database: Database | None = None
    repository: Repository | None = None
    report = _Report(len(files), show_bar=sys.stdout.isatty() if progress is None else progress)
    principal = ANONYMOUS if operator is None else operator_principal(operator)
    pool = ProcessPoolExecutor(max_workers=jobs) if jobs > 1 and len(files) > 1 else None
    try:
        with report:
            ready = (
                _InProcess(files, lenient, limits)
                if pool is None
                else _InWorkers(pool, files, lenient, limits, jobs)
            )

            async def opened_first(batches: AsyncIterator[list[Prepared]]) -> AsyncIterator[list[Prepared]]:
                # Opened before the first group with a file to store is handed to a storing task.
                nonlocal database, repository
                async for group in batches:
                    if database is None and any(not item.error for item in group):
                        # The installed plugins' tables are migrated, and their write hooks run, as in
                        # `titan serve`: a registry keeps its descriptors in step with a load too.
                        wiring = store_wiring(settings)
                        database = open_database(settings.database_url)
                        await database.migrate(wiring.migrations)
                        recorder = OutboxRecorder(
                            include_subject=settings.events_include_subject, write_hooks=wiring.write_hooks
                        )
                        repository = Repository(database, recorder=recorder)
                    yield group

            async def store(group: list[Prepared]) -> list[Stored]:
                if database is None or repository is None:
                    return [Stored(None, item.error) for item in group]
                return await store_group(database, group, _importer(repository, principal))

            connections = STORING_CONNECTIONS if not settings.database_url.startswith("sqlite") else 1
            async for group, outcomes in stored_in_parallel(
                opened_first(groups(ready)), store, _identifiables_of, connections=connections
            ):
                for item, outcome in zip(group, outcomes, strict=True):
                    prepared = cast(PreparedFile, item)
                    if outcome.counts is None:
                        refused += 1
                        report.error(f"titan load: {prepared.path}: {outcome.error}")
                        if prepared.suggest_lenient:
                            report.error(
                                "titan load: the file breaks the rules listed; fix it, or store it anyway "
                                "with `titan load --lenient` (every violation is then reported)"
                            )
                    else:
                        counts = outcome.counts
                        for violation in prepared.violations:
                            report.line(f"{prepared.path}: stored despite violation: {violation}")
                        total.add(counts)
                        report.line(
                            f"{prepared.path}: {counts.created} created, {counts.updated} updated, "
                            f"{counts.unchanged} unchanged"
                        )
                    report.advance()
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
        if database is not None:
            await database.close()
    print(
        f"titan load: {len(files)} files; {total.created} created, {total.updated} updated, "
        f"{total.unchanged} unchanged, {refused} refused; {time.monotonic() - started:.1f} s"
        + (f" ({len(skipped)} other files skipped)" if skipped else "")
    )
    return 1 if refused else 0


def _identifiables_of(item: Prepared) -> set[Hashable]:
    environment = cast(PreparedFile, item).environment
    return {
        (kind, document.get("id"))
        for section, kind in SECTIONS
        for document in environment.get(section) or ()
    }


def _importer(repository: Repository, principal: Principal) -> ImportMany:
    async def import_many(connection: AsyncConnection, items: list[Prepared]) -> list[ImportCounts]:
        prepared = [cast(PreparedFile, item) for item in items]
        return await repository.import_environments(
            connection, [(item.environment, item.files) for item in prepared], "load", principal
        )

    return import_many


class _Report:
    """A progress bar on a terminal (rich redirects printed lines above it); plain lines otherwise."""

    def __init__(self, total: int, *, show_bar: bool) -> None:
        self._progress: Any = None
        if show_bar:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

            self._progress = Progress(
                "[progress.description]{task.description}",
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
                transient=True,
            )
            self._task = self._progress.add_task("loading", total=total)

    def __enter__(self) -> _Report:
        if self._progress is not None:
            self._progress.start()
        return self

    def __exit__(self, *_: object) -> None:
        if self._progress is not None:
            self._progress.stop()

    def line(self, text: str) -> None:
        print(text)

    def error(self, text: str) -> None:
        print(text, file=sys.stderr)

    def advance(self) -> None:
        if self._progress is not None:
            self._progress.advance(self._task)

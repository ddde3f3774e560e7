"""`titan load`: upserts the shells, submodels and concept descriptions of environment files.

JSON, XML and AASX files (in an AASX the files its File values name become attachments). Each file is
imported in one transaction: it is stored whole or not at all. Strict by default. Real published
files often break small rules (empty strings, empty lists); `--lenient` stores them anyway and reports
every violation, so nothing invalid enters silently. No file is skipped without a line saying so.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from titan_core.auth import ALL_ROLES, ANONYMOUS, Principal
from titan_core.errors import BadRequest, TitanError
from titan_core.exchange.aasx import read_aasx
from titan_core.exchange.files import take_package_files
from titan_core.exchange.limits import DEFAULT_LIMITS, ImportLimits
from titan_core.exchange.xml import read_xml_environment
from titan_core.json_text import loads_json
from titan_core.model.verify import parse_and_verify
from titan_core.settings import Settings
from titan_core.store.database import Database, open_database
from titan_core.store.outbox import OutboxRecorder
from titan_core.store.records import Attachment, Kind
from titan_core.store.repository import ImportCounts, Repository

SUFFIXES = (".json", ".xml", ".aasx")
FileAttachment = tuple[Kind, str, str, Attachment]


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


def prepare_file(path: Path, lenient: bool, limits: ImportLimits = DEFAULT_LIMITS) -> PreparedFile:
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


def _prepared(paths: list[Path], lenient: bool, jobs: int, limits: ImportLimits) -> Iterator[PreparedFile]:
    if jobs <= 1 or len(paths) < 2:
        for path in paths:
            yield prepare_file(path, lenient, limits)
        return
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        yield from pool.map(prepare_file, paths, [lenient] * len(paths), [limits] * len(paths), chunksize=4)


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
    try:
        with report:
            for prepared in _prepared(files, lenient, jobs, limits):
                if not prepared.error and repository is None:
                    database = open_database(settings.database_url)
                    await database.migrate()
                    repository = Repository(
                        database, recorder=OutboxRecorder(include_subject=settings.events_include_subject)
                    )
                if not prepared.error:
                    assert repository is not None
                    try:
                        counts = await repository.import_environment(
                            prepared.environment, files=prepared.files, origin="load", principal=principal
                        )
                    except TitanError as exc:
                        prepared.error = f"refused: {exc}"
                if prepared.error:
                    refused += 1
                    report.error(f"titan load: {prepared.path}: {prepared.error}")
                    if prepared.suggest_lenient:
                        report.error(
                            "titan load: the file breaks the rules listed; fix it, or store it anyway with "
                            "`titan load --lenient` (every violation is then reported)"
                        )
                else:
                    for violation in prepared.violations:
                        report.line(f"{prepared.path}: stored despite violation: {violation}")
                    total.add(counts)
                    report.line(
                        f"{prepared.path}: {counts.created} created, {counts.updated} updated, "
                        f"{counts.unchanged} unchanged"
                    )
                report.advance()
    finally:
        if database is not None:
            await database.close()
    print(
        f"titan load: {len(files)} files; {total.created} created, {total.updated} updated, "
        f"{total.unchanged} unchanged, {refused} refused; {time.monotonic() - started:.1f} s"
        + (f" ({len(skipped)} other files skipped)" if skipped else "")
    )
    return 1 if refused else 0


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

"""`titan load`: upserts the shells, submodels and concept descriptions of environment files.

Strict by default. Real published files often break small rules (empty strings, empty lists);
`--lenient` stores them anyway and reports every violation, so nothing invalid enters silently.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any, TextIO

from titan_core.auth import ALL_ROLES, ANONYMOUS, Principal
from titan_core.errors import BadRequest, TitanError
from titan_core.events.outbox import OutboxRecorder
from titan_core.json_text import loads_json
from titan_core.model.verify import VerifiedModel, parse_and_verify
from titan_core.settings import Settings
from titan_core.store.database import Database, open_database
from titan_core.store.records import Kind
from titan_core.store.repository import Repository

_SECTIONS: tuple[tuple[str, Kind], ...] = (
    ("assetAdministrationShells", "shell"),
    ("submodels", "submodel"),
    ("conceptDescriptions", "concept_description"),
)
SUFFIXES = (".json", ".xml")


def environment_files(paths: Iterable[Path]) -> list[Path]:
    """The files named, and the .json/.xml files below the folders named, in a stable order."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*") if p.suffix.lower() in SUFFIXES and p.is_file()))
        else:
            found.append(path)
    return found


def read_environment(path: Path) -> Any:
    """The file's environment as Part 2 JSON (XML is converted through aas-core3.0)."""
    if path.suffix.lower() == ".xml":
        from aas_core3 import jsonization, xmlization

        try:
            return jsonization.to_jsonable(xmlization.environment_from_file(path))
        except xmlization.DeserializationException as exc:
            raise TitanError(f"{path}: not a valid AAS XML environment: {exc}", status=400) from None
    try:
        return loads_json(path.read_text(encoding="utf-8"))
    except BadRequest as exc:
        raise TitanError(f"{path}: {exc.message}", status=400) from None
    except UnicodeDecodeError as exc:
        raise TitanError(f"{path}: not UTF-8 text (byte {exc.start})", status=400) from None
    except json.JSONDecodeError as exc:
        raise TitanError(f"{path}: not valid JSON: {exc.msg} at line {exc.lineno}", status=400) from None
    except RecursionError:
        raise TitanError(f"{path}: the JSON is nested too deeply to be processed", status=400) from None


def operator_principal(operator: str) -> Principal:
    """Who `titan load` writes as: the operator (recorded as the events' subject), with every role,
    since whoever can run it can reach the database anyway."""
    return Principal(subject=operator, roles=ALL_ROLES)


def verify_environment(environment: Any, *, lenient: bool) -> VerifiedModel:
    """Check the environment against the meta-model (strictly unless lenient); touches no database."""
    return parse_and_verify("environment", environment, lenient=lenient)


async def load_environment(
    repository: Repository,
    environment: Any,
    *,
    lenient: bool,
    out: TextIO = sys.stdout,
    label: str = "",
    operator: Principal = ANONYMOUS,
) -> dict[str, int]:
    """Verify the environment (strictly unless lenient), then upsert every identifiable in it
    as `operator` (the subject of the events it causes)."""
    verified = verify_environment(environment, lenient=lenient)
    return await store_environment(repository, verified, out=out, label=label, operator=operator)


async def store_environment(
    repository: Repository,
    verified: VerifiedModel,
    *,
    out: TextIO = sys.stdout,
    label: str = "",
    operator: Principal = ANONYMOUS,
) -> dict[str, int]:
    """Upsert every identifiable of a verified environment as `operator`; counts created, updated,
    unchanged."""
    for violation in verified.violations:
        print(f"{label}: stored despite violation: {violation}", file=out)
    counts = {"created": 0, "updated": 0, "unchanged": 0}
    document = verified.jsonable
    for section, kind in _SECTIONS:
        for item in document.get(section) or ():
            before = await _version(repository, kind, item["id"])
            stored, created = await repository.upsert(
                kind, item, origin="load", principal=operator, lenient=True
            )
            if created:
                counts["created"] += 1
            elif before == stored.version:
                counts["unchanged"] += 1
            else:
                counts["updated"] += 1
    return counts


async def _version(repository: Repository, kind: Kind, identifier: str) -> int | None:
    try:
        return (await repository.get(kind, identifier)).version
    except TitanError:
        return None


async def load_paths(
    settings: Settings, paths: Iterable[Path], *, lenient: bool, operator: str | None = None
) -> int:
    """Load every file of `paths`; `operator` names who loads (None: the anonymous principal).

    Each file is read and verified before it is stored; the database is opened (and, for SQLite,
    its file created) only once a file passed, so a typo makes no database."""
    files = environment_files(paths)
    if not files:
        print("titan load: no .json or .xml files found in the paths given", file=sys.stderr)
        return 2
    database: Database | None = None
    repository: Repository | None = None
    principal = ANONYMOUS if operator is None else operator_principal(operator)
    failures = 0
    try:
        for path in files:
            try:
                verified = verify_environment(read_environment(path), lenient=lenient)
            except (FileNotFoundError, IsADirectoryError):
                failures += 1
                print(f"titan load: {path}: no such file", file=sys.stderr)
                continue
            except TitanError as exc:
                failures += 1
                _refused(path, exc, lenient=lenient)
                continue
            if repository is None:
                database = open_database(settings.database_url)
                await database.migrate()
                repository = Repository(
                    database, recorder=OutboxRecorder(include_subject=settings.events_include_subject)
                )
            try:
                counts = await store_environment(repository, verified, label=str(path), operator=principal)
            except TitanError as exc:
                failures += 1
                _refused(path, exc, lenient=lenient)
                continue
            print(
                f"{path}: {counts['created']} created, {counts['updated']} updated, "
                f"{counts['unchanged']} unchanged"
            )
    finally:
        if database is not None:
            await database.close()
    return 1 if failures else 0


def _refused(path: Path, exc: TitanError, *, lenient: bool) -> None:
    print(f"titan load: {path}: refused: {exc}", file=sys.stderr)
    if not lenient and exc.violations:
        print(
            "titan load: the file breaks the rules listed; fix it, or store it anyway with "
            "`titan load --lenient` (every violation is then reported)",
            file=sys.stderr,
        )

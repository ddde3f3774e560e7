"""`titan export`: all twins, or the shells named with their submodels and concept descriptions, as
JSON, XML or AASX, to a file or standard output."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import IO

from titan_core.auth import ROLE_READER, Principal
from titan_core.errors import TitanError
from titan_core.exchange.export import ExportPlan, json_chunks, plan_for_shells, write_aasx_export, xml_chunks
from titan_core.plugins import store_wiring
from titan_core.settings import Settings
from titan_core.store.database import open_database
from titan_core.store.repository import Repository

# Who `titan export` reads as: a reader of every twin, since exporting needs nothing more.
EXPORTER = Principal(subject="titan export", roles=frozenset({ROLE_READER}))

SUFFIX_FORMATS = {".json": "json", ".xml": "xml", ".aasx": "aasx"}


def format_for(output: Path | None, requested: str | None) -> str:
    """The format asked for, else the one the output file's suffix names, else JSON."""
    if requested:
        return requested
    if output is not None and output.suffix.lower() in SUFFIX_FORMATS:
        return SUFFIX_FORMATS[output.suffix.lower()]
    return "json"


async def export_twins(
    settings: Settings, *, shell_ids: list[str], output: Path | None, requested_format: str | None
) -> int:
    fmt = format_for(output, requested_format)
    if fmt == "aasx" and output is None and sys.stdout.isatty():
        print("titan export: an AASX package is binary; name a file with -o FILE.aasx", file=sys.stderr)
        return 2
    database = open_database(settings.database_url)
    try:
        await database.migrate(store_wiring(settings).migrations)
        repository = Repository(database)
        try:
            plan = (
                await plan_for_shells(repository, shell_ids, principal=EXPORTER)
                if shell_ids
                else ExportPlan()
            )
        except TitanError as exc:
            print(f"titan export: {exc}", file=sys.stderr)
            return 1
        target: IO[bytes] = output.open("wb") if output is not None else sys.stdout.buffer
        try:
            if fmt == "aasx":
                await write_aasx_export(target, repository, plan, principal=EXPORTER)
            else:
                write = json_chunks if fmt == "json" else xml_chunks
                chunks = write(repository, plan, principal=EXPORTER)
                async for chunk in chunks:
                    target.write(chunk.encode("utf-8"))
        finally:
            if output is not None:
                target.close()
    finally:
        await database.close()
    if output is not None:
        print(f"titan export: wrote {output} ({fmt})", file=sys.stderr)
    return 0

"""AASX exchange benchmarks on PostgreSQL: `titan load` of many distinct AASX files (files/s), and
`titan export` of a large environment as JSON and AASX (peak memory).

    .venv/bin/python bench/aasx_exchange.py load --files 1000 [--jobs 2] [--packages DIR] --database-url postgresql+asyncpg://postgres@127.0.0.1/aasx_bench
    .venv/bin/python bench/aasx_exchange.py export --submodels 100000 --database-url postgresql+asyncpg://…

The load files come from the IDTA AASX samples in tests/data/idta, every identifier suffixed with the
file's number so no file is a free "unchanged". The database is emptied first (it must be one made
for the benchmark). Peak memory is the child's maximum resident set size (getrusage).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from aas_core3 import jsonization, xmlization
from procs import process_cpu_seconds  # type: ignore[import-not-found]
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from synthetic import synthetic_submodel  # type: ignore[import-not-found]

from titan_core.auth import ANONYMOUS
from titan_core.exchange.aasx import AasxWriter, read_aasx
from titan_core.model.verify import parse_and_verify
from titan_core.store.database import Database
from titan_core.store.repository import Repository

ROOT = Path(__file__).resolve().parent.parent
IDTA = ROOT / "tests" / "data" / "idta"
SECTIONS = ("assetAdministrationShells", "submodels", "conceptDescriptions")


def distinct_copy(environment: dict[str, Any], number: int) -> dict[str, Any]:
    """The environment with every identifier (and every reference to one) suffixed with `-b{number}`."""
    ids = {item["id"] for section in SECTIONS for item in environment.get(section) or ()}
    textual = json.dumps(environment)
    for identifier in sorted(ids, key=len, reverse=True):
        quoted = json.dumps(identifier)
        textual = textual.replace(quoted, json.dumps(f"{identifier}-b{number}"))
    result: dict[str, Any] = json.loads(textual)
    return result


def write_packages(directory: Path, count: int, spec: str = "xml") -> list[Path]:
    templates = [read_aasx(str(path), path.name) for path in sorted(IDTA.glob("*.aasx"))]
    paths = []
    for number in range(count):
        template = templates[number % len(templates)]
        environment = distinct_copy(template.environment, number)
        # Lenient: the published templates break small rules; the bench measures loading, not them.
        instance = jsonization.environment_from_jsonable(environment)
        path = directory / f"bench-{number:05d}.aasx"
        with path.open("wb") as out:
            writer = AasxWriter(out, spec_format=spec)
            for part in template.parts.values():
                writer.add_file(part)
            if spec == "xml":
                writer.write_spec([xmlization.to_str(instance)])
            else:
                writer.write_spec([json.dumps(jsonization.to_jsonable(instance))])
            writer.close()
        paths.append(path)
    return paths


async def empty_database(url: str) -> None:
    engine = create_async_engine(url)
    async with engine.begin() as connection:
        await connection.execute(text("DROP SCHEMA public CASCADE"))
        await connection.execute(text("CREATE SCHEMA public"))
    await engine.dispose()


def run_measured(command: list[str]) -> tuple[float, float, str]:
    """(wall seconds, CPU seconds of the child and its workers, output). The CPU time says what a
    free machine would take when other work shares the cores (the wall time then misleads)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    elapsed = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if result.returncode not in (0, 1):
        raise SystemExit(result.stderr[-3000:])
    return elapsed, cpu, result.stdout + result.stderr


class BackendCpu:
    """CPU seconds of the PostgreSQL backends serving one database, read from /proc/<pid>/stat while
    they live (a backend's counters go with it): PostgreSQL's share of a load, which `run_measured`
    cannot see. WAL writer and checkpointer are not counted. PostgreSQL must run on this machine."""

    def __init__(self, url: str) -> None:
        self._database = url.rsplit("/", 1)[-1].split("?")[0]
        self._admin = url.rsplit("/", 1)[0] + "/postgres"
        self._last: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._poll()), daemon=True)

    async def _poll(self) -> None:
        engine = create_async_engine(self._admin)
        query = text("SELECT pid FROM pg_stat_activity WHERE datname = :name AND pid <> pg_backend_pid()")
        async with engine.connect() as connection:
            while not self._stop.is_set():
                pids = (await connection.execute(query, {"name": self._database})).scalars().all()
                await connection.commit()  # pg_stat_activity is a snapshot per transaction
                for pid in pids:
                    seconds = process_cpu_seconds(pid)
                    if seconds:
                        self._last[pid] = seconds
                await asyncio.sleep(0.1)
        await engine.dispose()

    def __enter__(self) -> BackendCpu:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    @property
    def seconds(self) -> float:
        return sum(self._last.values())


def bench_load(args: argparse.Namespace) -> None:
    asyncio.run(empty_database(args.database_url))
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(args.packages or scratch) / f"{args.spec}-{args.files}"
        paths = sorted(folder.glob("bench-*.aasx")) if folder.is_dir() else []
        if len(paths) != args.files:  # made once, kept with --packages: making them is not measured
            folder.mkdir(parents=True, exist_ok=True)
            paths = write_packages(folder, args.files, args.spec)
        command = [sys.executable, "-m", "titan_core", "load", "--lenient", "--jobs", str(args.jobs),
                   "--database-url", args.database_url, str(folder)]  # fmt: skip
        load_before = os.getloadavg()[0]
        with BackendCpu(args.database_url) as postgres:
            elapsed, cpu, output = run_measured(command)
        load_after = os.getloadavg()[0]
    summary = [line for line in output.splitlines() if line.startswith("titan load: ") and "files;" in line]
    what = f"titan load, {len(paths)} distinct AASX files ({args.spec} spec part), --jobs {args.jobs}"
    per_file = 1000 / len(paths)
    rates = (
        f"{len(paths) / elapsed:.1f} files/s | Titan {cpu:.1f} CPU s ({cpu * per_file:.1f} ms/file) | "
        f"PostgreSQL backends {postgres.seconds:.1f} CPU s ({postgres.seconds * per_file:.1f} ms/file)"
    )
    print(f"| {what} | {elapsed:.1f} s | {rates} | load average {load_before:.1f} → {load_after:.1f} |")
    print(summary[-1] if summary else output[-2000:])


async def fill(url: str, count: int) -> None:
    """`count` submodels: the first 1,000 through `import_environment`, the rest as copies of them made
    by PostgreSQL (ids suffixed `-c<n>`, in the id column and the stored JSON alike). The export reads
    only the stored rows, and importing 100,000 submodels through Titan took 849 s of a shared machine."""
    database = Database(url)
    await database.migrate()
    repository = Repository(database)
    batch = 1000
    environment = {"submodels": [synthetic_submodel(n) for n in range(min(batch, count))]}
    verified = parse_and_verify("environment", environment).jsonable
    await repository.import_environment(verified, origin="load", principal=ANONYMOUS)
    await database.close()
    engine = create_async_engine(url)
    copy = text(
        "INSERT INTO identifiables (kind, identifier, id_short, semantic_id, version, body, has_blob_values,"
        " created_at, updated_at)"
        " SELECT kind, identifier || :suffix, id_short, semantic_id, version,"
        " replace(body, '\"id\":\"' || identifier || '\"', '\"id\":\"' || identifier || :suffix || '\"'),"
        " has_blob_values, created_at, updated_at FROM identifiables"
        " WHERE kind = 'submodel' AND pk <= (SELECT min(pk) + :batch - 1 FROM identifiables) LIMIT :rows"
    )
    async with engine.begin() as connection:
        for first in range(batch, count, batch):
            rows = min(batch, count - first)
            await connection.execute(copy, {"suffix": f"-c{first // batch}", "batch": batch, "rows": rows})
    await engine.dispose()


def bench_export(args: argparse.Namespace) -> None:
    if not args.keep:
        asyncio.run(empty_database(args.database_url))
        started = time.monotonic()
        asyncio.run(fill(args.database_url, args.submodels))
        print(f"filled {args.submodels} submodels in {time.monotonic() - started:.0f} s")
    with tempfile.TemporaryDirectory() as folder:
        for fmt in ("json", "aasx"):
            output = Path(folder) / f"export.{fmt}"
            # A fresh interpreter per format, so each peak is its own (ru_maxrss of children is a max).
            command = [sys.executable, "-c",
                       "import resource, sys; from titan_core.cli import main; code = main(sys.argv[1:]); "
                       "print('peak_rss_kb', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr); "
                       "sys.exit(code)",
                       "export", "--database-url", args.database_url, "-o", str(output)]  # fmt: skip
            elapsed, _cpu, log = run_measured(command)
            peak = int(log.split("peak_rss_kb")[-1].split()[0]) // 1024
            print(f"| titan export, {args.submodels} submodels, {fmt} | {elapsed:.1f} s | "
                  f"{output.stat().st_size / 1e6:.0f} MB file | peak RSS {peak} MB |")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    load = commands.add_parser("load")
    load.add_argument("--files", type=int, default=1000)
    load.add_argument("--jobs", type=int, default=1)
    load.add_argument(
        "--spec", choices=("xml", "json"), default="xml", help="format of the packages' spec part"
    )
    load.add_argument("--database-url", required=True)
    load.add_argument(
        "--packages", help="folder to keep the generated packages in between runs (default: made anew)"
    )
    export = commands.add_parser("export")
    export.add_argument("--submodels", type=int, default=100_000)
    export.add_argument(
        "--keep", action="store_true", help="export what the database holds, without refilling"
    )
    export.add_argument("--database-url", required=True)
    args = parser.parse_args()
    bench_load(args) if args.command == "load" else bench_export(args)


if __name__ == "__main__":
    main()

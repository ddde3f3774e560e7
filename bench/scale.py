"""Scale benchmark: does GET-by-id stay as fast with 100,000 stored submodels as with 1,000, and does
`GET /submodels?limit=100` stay under 50 ms p99 at 100,000? Synthetic 2.4 KB submodels, loaded with
`titan load` from generated environment files. Two Titan instances (small and large database) run side
by side and are measured in alternating rounds, so load from other work hits both sizes alike.
Usage: .venv/bin/python bench/scale.py [--small 1000] [--large 100000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import datetime
import json
import statistics
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from openloop import percentile, run_open_loop
from procs import machine_busy_seconds, process_cpu_seconds, process_rss_mb
from report import CONTENTION_PERCENT, report_header, save_report, table_row
from synthetic import synthetic_submodel, synthetic_submodel_id, write_environment_chunks
from titan_instance import TitanInstance, submodel_url

BENCH_DIR = Path(__file__).resolve().parent
TARGET_DRIFT = 0.20
TARGET_LIST_P99_MS = 50.0
COLUMNS = ["stored", "round", "benchmark", "achieved/s", "p50 ms", "p90 ms", "p99 ms", "max ms", "errors"]
COLUMNS += ["server CPU", "other CPU", "server RSS"]


def get_json(url: str) -> tuple[Any, float]:
    """GET and decode; also the seconds the request took."""
    started = time.perf_counter()
    with urllib.request.urlopen(url, timeout=60) as response:
        document = json.loads(response.read())
    return document, time.perf_counter() - started


def walk_list_pages(base_url: str, limit: int) -> tuple[list[str], list[float], int]:
    """Follow `paging_metadata.cursor` from the first page to the last, one request at a time.

    Returns every page's URL (to replay them open loop), each page's latency in ms, and the number of
    submodels seen, which must equal the number stored."""
    first = f"{base_url}/submodels?limit={limit}"
    urls, latencies, seen = [first], [], 0
    url: str | None = first
    while url is not None:
        page, seconds = get_json(url)
        latencies.append(seconds * 1000)
        seen += len(page.get("result", []))
        cursor = (page.get("paging_metadata") or {}).get("cursor")
        url = f"{first}&cursor={urllib.parse.quote(str(cursor), safe='')}" if cursor else None
        if url is not None:
            urls.append(url)
    return urls, latencies, seen


def open_loop_row(
    name: str, urls: list[str], rate: float, pid: int, args: argparse.Namespace
) -> dict[str, Any]:
    """One measured open-loop run, with the CPU of the server and of the rest of the machine."""
    server_before, machine_before = process_cpu_seconds(pid), machine_busy_seconds()
    result = asyncio.run(
        run_open_loop(urls, rate=rate, duration_s=args.duration, connections=args.connections)
    )
    server_used = process_cpu_seconds(pid) - server_before
    machine_used = machine_busy_seconds() - machine_before
    generator_used = result.generator_cpu_percent_of_one_core * result.duration_s / 100
    print(f"    {name}: {result.summary_line()}", file=sys.stderr, flush=True)
    return dict(
        dataclasses.asdict(result),
        name=name,
        server_cpu_percent=100 * server_used / result.duration_s,
        other_cpu_percent=max(0.0, 100 * (machine_used - server_used - generator_used) / result.duration_s),
        server_rss_mb=process_rss_mb(pid),
    )


def warm_up(urls: list[str], rate: float, args: argparse.Namespace) -> None:
    asyncio.run(run_open_loop(urls, rate=rate, duration_s=args.warmup, connections=args.connections, seed=7))


def drift_checks(rows: list[dict[str, Any]], small: int, large: int) -> list[dict[str, Any]]:
    """p50 and p99 drift from small to large, each size summarised by the median over its rounds."""
    checks = []
    by_id = [row for row in rows if row["name"].startswith("GET submodel by id")]
    contended = any(row["other_cpu_percent"] > CONTENTION_PERCENT for row in by_id)
    for key in ("p50_ms", "p99_ms"):
        low = statistics.median(row[key] for row in by_id if row["stored"] == small)
        high = statistics.median(row[key] for row in by_id if row["stored"] == large)
        change = high / low - 1.0 if low else float("inf")
        checks.append(
            {
                "target": f"GET-by-id {key[:3]} drift <= {TARGET_DRIFT:.0%} ({small:,} -> {large:,}), "
                "median of rounds",
                "value": f"{low:.2f} -> {high:.2f} ms ({change:+.0%})",
                "met": change <= TARGET_DRIFT,
                "contended": contended,
            }
        )
    return checks


def render(report: dict[str, Any]) -> str:
    settings = report["settings"]
    lines = [
        f"## Scale benchmark {report['started']}",
        "",
        f"Synthetic submodels of {report['submodel_bytes']} bytes (11 elements). GET-by-id: random ids, "
        f"open loop {settings['rate']:.0f} req/s, {settings['duration']:.0f} s per round, sizes alternating. "
        f"List: the pages of `GET /submodels?limit=100` replayed open loop at {settings['list_rate']:.0f} req/s.",
        "",
        table_row(COLUMNS),
        table_row(["---:", "---:", "---", *["---:"] * (len(COLUMNS) - 3)]),
    ]
    for row in report["runs"]:
        contended = " (!)" if row["other_cpu_percent"] > CONTENTION_PERCENT else ""
        cells = [f"{row['stored']:,}", str(row["round"]), row["name"], f"{row['achieved_rate']:,.0f}"]
        cells += [f"{row[key]:.2f}" for key in ("p50_ms", "p90_ms", "p99_ms")]
        cells += [f"{row['max_ms']:.1f}", str(row["errors"]), f"{row['server_cpu_percent']:.0f}%"]
        cells += [f"{row['other_cpu_percent']:.0f}%{contended}", f"{row['server_rss_mb']:.0f} MB"]
        lines.append(table_row(cells))
    lines += ["", "| target | this run | verdict |", "| --- | --- | --- |"]
    for check in report["checks"]:
        verdict = "met" if check["met"] else "**missed**"
        if check.get("contended"):
            verdict += " (under contention: repeat on a quiet machine)"
        lines.append(f"| {check['target']} | {check['value']} | {verdict} |")
    lines += ["", "### Notes", "", *[f"- {note}" for note in report["notes"]]]
    return "\n".join(lines)


def load_both(small: TitanInstance, large: TitanInstance, args: argparse.Namespace, notes: list[str]) -> None:
    """The small database gets submodels 0..small-1; the large one the same plus the rest."""
    first = write_environment_chunks(small.workdir / "load", 0, args.small, args.chunk)
    rest = write_environment_chunks(large.workdir / "load", args.small, args.large - args.small, args.chunk)
    for instance, files, count in ((small, first, args.small), (large, first + rest, args.large)):
        print(f"... loading {count:,} submodels in {len(files)} file(s)", file=sys.stderr, flush=True)
        seconds = instance.load(files, lenient=False)
        notes.append(
            f"loaded {count:,} submodels with one `titan load` of {len(files)} file(s) (at most "
            f"{args.chunk:,} per file) in {seconds:.1f} s: {count / seconds:,.0f} submodels/s"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--small", type=int, default=1_000, help="submodels in the small database")
    parser.add_argument("--large", type=int, default=100_000, help="submodels in the large database")
    parser.add_argument("--rounds", type=int, default=3, help="alternating GET-by-id rounds per size")
    parser.add_argument("--rate", type=float, default=500.0, help="GET-by-id open-loop rate (default 500/s)")
    parser.add_argument("--list-rate", type=float, default=100.0, help="list-page open-loop rate (100/s)")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per measured run (default 5)")
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--chunk", type=int, default=10_000, help="submodels per generated environment file")
    parser.add_argument("--titan-python", default=sys.executable)
    parser.add_argument("--results-dir", type=Path, default=BENCH_DIR / "results")
    args = parser.parse_args(argv)
    started = datetime.datetime.now(datetime.UTC)
    rows: list[dict[str, Any]] = []
    notes: list[str] = []
    checks: list[dict[str, Any]] = []

    with (
        TitanInstance(python=args.titan_python, log_name="titan-small") as small,
        TitanInstance(python=args.titan_python, log_name="titan-large") as large,
    ):
        load_both(small, large, args, notes)
        sizes = {args.small: small, args.large: large}
        ids = {
            size: [submodel_url(t.base_url, synthetic_submodel_id(n)) for n in range(size)]
            for size, t in sizes.items()
        }
        servers = {size: instance.start() for size, instance in sizes.items()}
        for size in sizes:
            warm_up(ids[size], args.rate, args)
        for round_number in range(1, args.rounds + 1):
            order = list(sizes) if round_number % 2 else list(reversed(sizes))
            for size in order:
                print(f"... round {round_number}, {size:,} stored: GET by id", file=sys.stderr, flush=True)
                row = open_loop_row(
                    "GET submodel by id (random)", ids[size], args.rate, servers[size].pid, args
                )
                rows.append(dict(row, stored=size, round=round_number))
        checks += drift_checks(rows, args.small, args.large)

        print(f"... {args.large:,} stored: walking list pages", file=sys.stderr, flush=True)
        pages, walk_ms, seen = walk_list_pages(large.base_url, 100)
        walk_ms.sort()
        notes.append(
            f"cursor walk at {args.large:,}: {len(pages)} pages, {seen:,} submodels seen (expected "
            f"{args.large:,}); one client, sequential: p50 {percentile(walk_ms, 0.5):.1f} ms, "
            f"p99 {percentile(walk_ms, 0.99):.1f} ms"
        )
        if seen != args.large:
            notes.append(f"PAGING ERROR: the walk saw {seen:,} submodels, {args.large:,} are stored")
        warm_up(pages, args.list_rate, args)
        row = open_loop_row(
            "GET /submodels?limit=100 (random page)", pages, args.list_rate, servers[args.large].pid, args
        )
        rows.append(dict(row, stored=args.large, round=1))
        checks.append(
            {
                "target": f"list p99 < {TARGET_LIST_P99_MS:.0f} ms at {args.large:,}",
                "value": f"{row['p99_ms']:.1f} ms",
                "met": row["p99_ms"] < TARGET_LIST_P99_MS and row["errors"] == 0 and seen == args.large,
                "contended": row["other_cpu_percent"] > CONTENTION_PERCENT,
            }
        )

    report = {
        **report_header(started, args),
        "submodel_bytes": len(json.dumps(synthetic_submodel(50_000), separators=(",", ":"))),
        "runs": rows,
        "checks": checks,
        "notes": notes,
    }
    save_report(report, render(report), args.results_dir, "scale")
    return 0


if __name__ == "__main__":
    sys.exit(main())

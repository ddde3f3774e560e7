"""One REST benchmark run: the ceiling (bare aiohttp), Titan (fresh SQLite) and BaSyx, measured back to
back on the same data, with ratios computed from this run only. Prints a markdown table, writes JSON
to bench/results/. Usage: .venv/bin/python bench/run_rest.py [--duration 10] [--targets ...]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import datetime
import functools
import sys
import tempfile
import urllib.error
import urllib.request
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from openloop import run_open_loop
from procs import ManagedServer, free_port, machine_busy_seconds, process_cpu_seconds
from report import render_markdown, report_header, save_report
from titan_instance import (
    HANDOVER_FILE,
    HANDOVER_ID,
    HANDOVER_PROPERTY,
    NAMEPLATE_FILE,
    NAMEPLATE_ID,
    NAMEPLATE_PROPERTY,
    TitanInstance,
    element_value_url,
    submodel_bytes_like_titan,
    submodel_url,
    submodel_value_url,
)
from wrk_runner import require_wrk, run_wrk

BENCH_DIR = Path(__file__).resolve().parent
BASYX_PYTHON = BENCH_DIR / ".venv-basyx" / "bin" / "python"


@dataclasses.dataclass
class Case:
    """One closed-loop measurement: which server, which URL, and how to send."""

    name: str
    server: str
    url: str
    method: str = "GET"
    body_prefix: str | None = None


def http_status(url: str, method: str = "GET", body: bytes | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(
        url, method=method, data=body, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def usable(case: Case, notes: list[str]) -> bool:
    """Try the request once; a case that fails is reported and skipped instead of benchmarking errors."""
    body = b'"bench-probe"' if case.body_prefix is not None else None
    status, answer = http_status(case.url, case.method, body)
    if status >= 400:
        notes.append(
            f"{case.name}: skipped, probe answered HTTP {status}: {answer[:300].decode(errors='replace')}"
        )
        return False
    return True


def measure_open_loop(name: str, server: str, url: str, pid: int, args: argparse.Namespace) -> dict[str, Any]:
    """Warm up, then an open-loop run at args.rate from this process, with the CPU each party used."""
    asyncio.run(run_open_loop([url], rate=args.rate, duration_s=args.warmup, connections=args.connections))
    server_before, machine_before = process_cpu_seconds(pid), machine_busy_seconds()
    result = asyncio.run(
        run_open_loop([url], rate=args.rate, duration_s=args.duration, connections=args.connections)
    )
    server_used = process_cpu_seconds(pid) - server_before
    machine_used = machine_busy_seconds() - machine_before
    generator_used = result.generator_cpu_percent_of_one_core * result.duration_s / 100
    row = dataclasses.asdict(result)
    row.update(
        name=name,
        server=server,
        kind="open-loop",
        url=url,
        server_cpu_percent=100 * server_used / result.duration_s,
        other_cpu_percent=max(0.0, 100 * (machine_used - server_used - generator_used) / result.duration_s),
    )
    return row


def start_servers(stack: ExitStack, args: argparse.Namespace, notes: list[str]) -> dict[str, Any]:
    """Start the requested servers; returns name -> (base URL, ManagedServer) and the ceiling payload."""
    servers: dict[str, Any] = {}
    payload = submodel_bytes_like_titan(NAMEPLATE_FILE)
    if "titan" in args.targets:
        titan = stack.enter_context(TitanInstance(python=args.titan_python))
        load_seconds = titan.load([NAMEPLATE_FILE, HANDOVER_FILE], lenient=True)
        notes.append(
            f"titan: loaded Nameplate + Handover Documentation with `titan load --lenient` "
            f"in {load_seconds:.1f} s (database {titan.database_url})"
        )
        servers["titan"] = (titan.base_url, titan.start())
        status, answer = http_status(submodel_url(titan.base_url, NAMEPLATE_ID))
        if status == 200:
            payload = answer
            notes.append(f"ceiling: serves the {len(payload)} bytes Titan answered for the Nameplate")
        else:
            notes.append(f"ceiling: Titan answered HTTP {status} for the Nameplate; serving aas-core3 bytes")
    if "ceiling" in args.targets:
        payload_path = Path(stack.enter_context(_tempdir())) / "nameplate.json"
        payload_path.write_bytes(payload)
        servers["ceiling"] = _start_script(
            stack,
            sys.executable,
            "ceiling_server.py",
            [str(payload_path)],
            ready_path="/",
            log_path=payload_path.with_suffix(".log"),
        )
    if "basyx" in args.targets:
        if not Path(args.basyx_python).exists():
            notes.append(f"basyx: skipped, {args.basyx_python} missing (see bench/README.md to create it)")
        else:
            log_dir = Path(stack.enter_context(_tempdir()))
            servers["basyx"] = _start_script(
                stack,
                args.basyx_python,
                "basyx_server.py",
                [str(NAMEPLATE_FILE), str(HANDOVER_FILE)],
                ready_path="/submodels",
                log_path=log_dir / "basyx.log",
            )
    return servers


def _start_script(
    stack: ExitStack, python: str, script: str, arguments: list[str], *, ready_path: str, log_path: Path
) -> tuple[str, ManagedServer]:
    """Runs one of this folder's server scripts on a free port until `stack` closes: (base URL, server)."""
    port = free_port()
    server = ManagedServer(
        name=Path(script).stem.removesuffix("_server"),
        command=[python, str(BENCH_DIR / script), *arguments, "--port", str(port)],
        ready_url=f"http://127.0.0.1:{port}{ready_path}",
        log_path=log_path,
    )
    return f"http://127.0.0.1:{port}", stack.enter_context(server)


def _tempdir() -> tempfile.TemporaryDirectory[str]:
    return tempfile.TemporaryDirectory(prefix="titan-bench-")


def build_cases(servers: dict[str, Any]) -> list[Case]:
    cases: list[Case] = []
    if "ceiling" in servers:
        cases.append(
            Case(
                "GET submodel Nameplate (ready bytes)",
                "ceiling",
                submodel_url(servers["ceiling"][0], NAMEPLATE_ID),
            )
        )
    if "titan" in servers:
        base = servers["titan"][0]
        for label, identifier, prop in (
            ("Nameplate", NAMEPLATE_ID, NAMEPLATE_PROPERTY),
            ("HandoverDocumentation", HANDOVER_ID, HANDOVER_PROPERTY),
        ):
            cases.append(Case(f"GET submodel {label}", "titan", submodel_url(base, identifier)))
            cases.append(Case(f"GET submodel $value {label}", "titan", submodel_value_url(base, identifier)))
            cases.append(
                Case(
                    f"PATCH $value {label} {prop}",
                    "titan",
                    element_value_url(base, identifier, prop),
                    method="PATCH",
                    body_prefix="bench-",
                )
            )
    if "basyx" in servers:
        cases.append(Case("GET submodel Nameplate", "basyx", submodel_url(servers["basyx"][0], NAMEPLATE_ID)))
    return cases


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=float, default=10.0, help="seconds measured per case (default 10)")
    parser.add_argument(
        "--warmup", type=float, default=3.0, help="seconds of unreported load first (default 3)"
    )
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1, help="wrk threads (default 1: leaves a core)")
    parser.add_argument("--rate", type=float, default=2000.0, help="open-loop offered load, requests/s")
    parser.add_argument("--targets", default="ceiling,titan,basyx", help="comma list of servers to run")
    parser.add_argument(
        "--titan-python", default=sys.executable, help="interpreter with titan_core installed"
    )
    parser.add_argument("--basyx-python", default=str(BASYX_PYTHON))
    parser.add_argument("--results-dir", type=Path, default=BENCH_DIR / "results")
    args = parser.parse_args(argv)
    args.targets = {name.strip() for name in args.targets.split(",") if name.strip()}
    require_wrk()

    started = datetime.datetime.now(datetime.UTC)
    notes: list[str] = []
    rows: list[dict[str, Any]] = []
    with ExitStack() as stack:
        servers = start_servers(stack, args, notes)
        for case in build_cases(servers):
            if not usable(case, notes):
                continue
            server: ManagedServer = servers[case.server][1]
            print(f"... {case.server}: {case.name}", file=sys.stderr, flush=True)
            run_case = functools.partial(
                run_wrk,
                case.url,
                connections=args.connections,
                threads=args.threads,
                method=case.method,
                body_prefix=case.body_prefix,
            )
            run_case(duration_s=args.warmup)
            result = run_case(duration_s=args.duration, server_pid=server.pid)
            rows.append(dict(dataclasses.asdict(result), name=case.name, server=case.server, kind="wrk"))
        for name in ("ceiling", "titan"):
            if name in servers:
                print(f"... {name}: open loop {args.rate:.0f}/s", file=sys.stderr, flush=True)
                url = submodel_url(servers[name][0], NAMEPLATE_ID)
                rows.append(
                    measure_open_loop(
                        f"GET submodel Nameplate, open loop {args.rate:.0f}/s",
                        name,
                        url,
                        servers[name][1].pid,
                        args,
                    )
                )

    report = {**report_header(started, args), "notes": notes, "runs": rows}
    save_report(report, render_markdown(report), args.results_dir, "rest")
    return 0


if __name__ == "__main__":
    sys.exit(main())

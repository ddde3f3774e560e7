"""Run wrk (closed loop: each connection sends its next request when the answer arrives) and collect its
JSON summary from wrk_report.lua, plus the CPU that wrk itself, the server and everything else used."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import time
from pathlib import Path

from procs import machine_busy_seconds, tree_cpu_seconds

REPORT_SCRIPT = Path(__file__).with_name("wrk_report.lua")
PATHS_SCRIPT = Path(__file__).with_name("wrk_paths.lua")


@dataclasses.dataclass
class WrkResult:
    """One wrk run; latencies in milliseconds, CPU as percent of one core over the run."""

    url: str
    method: str
    connections: int
    threads: int
    duration_s: float
    requests: int
    requests_per_s: float
    errors: int
    error_detail: dict[str, int]
    p50_ms: float
    p90_ms: float
    p99_ms: float
    p999_ms: float
    max_ms: float
    bytes_per_response: float
    # Answers the script found wrong (wrk_paths.lua's WRK_EXPECT); 0 for wrk_report.lua.
    wrong: int
    generator_cpu_percent: float
    server_cpu_percent: float
    other_cpu_percent: float


def require_wrk() -> str:
    path = shutil.which("wrk")
    if path is None:
        raise RuntimeError("wrk is not installed: apt-get update && apt-get install -y wrk")
    return path


def run_wrk(
    url: str,
    *,
    duration_s: float,
    connections: int = 64,
    threads: int = 1,
    method: str = "GET",
    body_prefix: str | None = None,
    server_pid: int | None = None,
    script: Path = REPORT_SCRIPT,
    script_env: dict[str, str] | None = None,
) -> WrkResult:
    """Load `url` for `duration_s`; with `body_prefix`, every request carries a distinct JSON string body.
    `script` (with its `script_env`) replaces wrk_report.lua, e.g. wrk_paths.lua; it must print the
    same WRK_JSON summary line. The server's CPU is its process tree's (workers included)."""
    env = dict(os.environ, WRK_METHOD=method, WRK_THREADS=str(threads), **(script_env or {}))
    if body_prefix is not None:
        env["WRK_BODY_PREFIX"] = body_prefix
    command = [
        require_wrk(),
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(duration_s))}s",
        "--timeout",
        "10s",
        "-s",
        str(script),
        url,
    ]
    server_before = tree_cpu_seconds(server_pid) if server_pid else 0.0
    machine_before = machine_busy_seconds()
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    # wait4 instead of wait: it returns the child's own resource usage, i.e. wrk's CPU time.
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    assert process.stdout is not None and process.stderr is not None
    output = process.stdout.read().decode(errors="replace")
    problems = process.stderr.read().decode(errors="replace")
    machine_used = machine_busy_seconds() - machine_before
    server_used = (tree_cpu_seconds(server_pid) - server_before) if server_pid else 0.0
    generator_used = usage.ru_utime + usage.ru_stime
    summary_lines = [line for line in output.splitlines() if line.startswith("WRK_JSON ")]
    if process.returncode != 0 or not summary_lines:
        raise RuntimeError(f"wrk failed ({process.returncode}): {problems or output}")
    summary = json.loads(summary_lines[-1].removeprefix("WRK_JSON "))
    error_detail = {
        key.removeprefix("errors_"): value for key, value in summary.items() if key.startswith("errors_")
    }
    wall = summary["duration_us"] / 1e6
    requests = summary["requests"]
    return WrkResult(
        url=url,
        method=method,
        connections=connections,
        threads=threads,
        duration_s=wall,
        requests=requests,
        requests_per_s=(requests - error_detail["status"]) / wall,
        errors=sum(error_detail.values()),
        error_detail=error_detail,
        p50_ms=summary["latency_p50_us"] / 1000,
        p90_ms=summary["latency_p90_us"] / 1000,
        p99_ms=summary["latency_p99_us"] / 1000,
        p999_ms=summary["latency_p999_us"] / 1000,
        max_ms=summary["latency_max_us"] / 1000,
        bytes_per_response=summary["bytes"] / requests if requests else 0.0,
        wrong=summary.get("wrong", 0),
        generator_cpu_percent=100 * generator_used / elapsed,
        server_cpu_percent=100 * server_used / elapsed,
        other_cpu_percent=max(0.0, 100 * (machine_used - generator_used - server_used) / elapsed),
    )

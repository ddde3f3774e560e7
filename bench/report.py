"""Markdown for a REST benchmark report: the measurements, the ratios of this run, and the issue's targets."""

from __future__ import annotations

import argparse
import datetime
import json
from pathlib import Path
from typing import Any

from procs import cpu_description

# CPU used by processes outside the benchmark above this (percent of one core) marks a figure as contended.
CONTENTION_PERCENT = 15.0

TARGET_GET_PER_S = 5000.0
TARGET_OPEN_LOOP_P99_MS = 10.0
TARGET_PATCH_PER_S = 1000.0
TARGET_BASYX_FACTOR = 30.0


def _find(runs: list[dict[str, Any]], server: str, name: str) -> dict[str, Any] | None:
    return next((run for run in runs if run["server"] == server and run["name"] == name), None)


def _rate(run: dict[str, Any]) -> float:
    return float(run["requests_per_s"] if run["kind"] == "wrk" else run["achieved_rate"])


def _verdict(ok: bool, run: dict[str, Any] | None = None) -> str:
    verdict = "met" if ok else "**missed**"
    if run is not None and run["other_cpu_percent"] > CONTENTION_PERCENT:
        verdict += " (under contention: repeat on a quiet machine)"
    return verdict


def table_row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _most_contended(*runs: dict[str, Any]) -> dict[str, Any]:
    return max(runs, key=lambda run: float(run["other_cpu_percent"]))


def measurement_table(runs: list[dict[str, Any]]) -> list[str]:
    headers = ["server", "benchmark", "req/s", "p50 ms", "p99 ms", "max ms", "errors"]
    headers += ["server CPU", "generator CPU", "other CPU"]
    lines = [table_row(headers), table_row(["---", "---"] + ["---:"] * (len(headers) - 2))]
    for run in runs:
        generator = run.get("generator_cpu_percent", run.get("generator_cpu_percent_of_one_core", 0.0))
        contended = " (!)" if run["other_cpu_percent"] > CONTENTION_PERCENT else ""
        cells = [
            run["server"],
            run["name"],
            f"{_rate(run):,.0f}",
            f"{run['p50_ms']:.2f}",
            f"{run['p99_ms']:.2f}",
        ]
        cells += [f"{run['max_ms']:.1f}", str(run["errors"]), f"{run['server_cpu_percent']:.0f}%"]
        cells += [f"{generator:.0f}%", f"{run['other_cpu_percent']:.0f}%{contended}"]
        lines.append(table_row(cells))
    lines.append("")
    lines.append(
        "CPU columns are percent of ONE core over the measured interval (the machine has 2). "
        "'other' is everything on the machine outside the server and the load generator; "
        f"(!) marks more than {CONTENTION_PERCENT:.0f}%: that figure was taken under contention."
    )
    return lines


def target_lines(runs: list[dict[str, Any]], rate: float) -> list[str]:
    lines = ["| target | this run | verdict |", "| --- | --- | --- |"]
    titan_get = _find(runs, "titan", "GET submodel Nameplate")
    ceiling_get = _find(runs, "ceiling", "GET submodel Nameplate (ready bytes)")
    basyx_get = _find(runs, "basyx", "GET submodel Nameplate")
    open_loop = _find(runs, "titan", f"GET submodel Nameplate, open loop {rate:.0f}/s")
    if titan_get:
        value = _rate(titan_get)
        lines.append(
            f"| GET submodel Nameplate >= {TARGET_GET_PER_S:,.0f} req/s at 64 connections "
            f"| {value:,.0f} req/s | {_verdict(value >= TARGET_GET_PER_S, titan_get)} |"
        )
    if open_loop:
        p99 = float(open_loop["p99_ms"])
        delivered = open_loop["errors"] == 0 and _rate(open_loop) >= 0.97 * rate
        lines.append(
            f"| p99 <= {TARGET_OPEN_LOOP_P99_MS:.0f} ms at {rate:,.0f} req/s offered (open loop) "
            f"| p99 {p99:.2f} ms, achieved {_rate(open_loop):,.0f}/s, {open_loop['errors']} errors "
            f"| {_verdict(p99 <= TARGET_OPEN_LOOP_P99_MS and delivered, open_loop)} |"
        )
    for run in runs:
        if run["server"] == "titan" and run["name"].startswith("PATCH"):
            value = _rate(run)
            lines.append(
                f"| {run['name']} >= {TARGET_PATCH_PER_S:,.0f} writes/s | {value:,.0f} writes/s "
                f"| {_verdict(value >= TARGET_PATCH_PER_S and run['errors'] == 0, run)} |"
            )
    if titan_get and basyx_get and _rate(basyx_get) > 0:
        factor = _rate(titan_get) / _rate(basyx_get)
        lines.append(
            f"| GET submodel Nameplate >= {TARGET_BASYX_FACTOR:.0f}x BaSyx | {factor:.1f}x "
            f"({_rate(titan_get):,.0f} vs {_rate(basyx_get):,.0f} req/s) "
            f"| {_verdict(factor >= TARGET_BASYX_FACTOR, _most_contended(titan_get, basyx_get))} |"
        )
    if titan_get and ceiling_get and _rate(ceiling_get) > 0:
        fraction = _rate(titan_get) / _rate(ceiling_get)
        lines.append(
            f"| (no target) Titan as a fraction of the ceiling | {fraction:.1%} "
            f"({_rate(titan_get):,.0f} of {_rate(ceiling_get):,.0f} req/s) | - |"
        )
    if len(lines) == 2:
        lines.append("| (no Titan figures in this run) | - | - |")
    return lines


def render_markdown(report: dict[str, Any]) -> str:
    machine = report["machine"]
    settings = report["settings"]
    runs: list[dict[str, Any]] = report["runs"]
    lines = [
        f"## REST benchmark {report['started']}",
        "",
        f"Machine: {machine['cores']} cores, {machine['model']}, load average at the end "
        f"{' '.join(machine['loadavg'])}. "
        f"wrk: {settings['connections']} connections, {settings['threads']} thread(s), "
        f"{settings['duration']:.0f} s per case after {settings['warmup']:.0f} s warm-up. "
        f"Open loop: {settings['rate']:,.0f} req/s offered, latency from the scheduled send time.",
        "",
        *measurement_table(runs),
        "",
        "### Targets (load generator on the same 2 cores)",
        "",
        *target_lines(runs, float(settings["rate"])),
    ]
    if report["notes"]:
        lines += ["", "### Notes", "", *[f"- {note}" for note in report["notes"]]]
    return "\n".join(lines)


def report_header(started: datetime.datetime, args: argparse.Namespace) -> dict[str, Any]:
    """What every saved report begins with: when, on which machine, with which settings (JSON-ready)."""
    return {
        "started": started.isoformat(timespec="seconds"),
        "machine": cpu_description(),
        "settings": {key: _json_ready(value) for key, value in vars(args).items()},
    }


def _json_ready(value: Any) -> Any:
    if isinstance(value, set):
        return sorted(value)
    return str(value) if isinstance(value, Path) else value


def save_report(report: dict[str, Any], markdown: str, results_dir: Path, kind: str) -> Path:
    """Adds the markdown to the report, writes it as `<kind>-<started>.json` and prints both."""
    report["markdown"] = markdown
    results_dir.mkdir(parents=True, exist_ok=True)
    started = datetime.datetime.fromisoformat(report["started"])
    out = results_dir / f"{kind}-{started.strftime('%Y%m%dT%H%M%SZ')}.json"
    out.write_text(json.dumps(report, indent=2))
    print(markdown)
    print(f"\nJSON: {out}")
    return out

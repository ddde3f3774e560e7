"""schemathesis as a child process against a live server: its CLI with the options every run here
shares (all phases, one worker, no health checks), a time budget, and the count it tested."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

_CLI = "import sys; from schemathesis.cli import schemathesis; sys.exit(schemathesis())"


def run_schemathesis(
    schema: str,
    run_options: Sequence[str],
    *,
    cwd: Path,
    budget_seconds: int,
    config_file: Path | None = None,
) -> tuple[str, int]:
    """`schemathesis run <schema>` (a file or a URL) with `run_options` for up to `budget_seconds`;
    asserts it passed and returns its output and how many operations it tested."""
    command = [
        sys.executable, "-c", _CLI,
        *(["--config-file", str(config_file)] if config_file else []), "--no-color",
        "run", schema, *run_options,
        "--phases", "examples,coverage,fuzzing",
        "--max-time", str(budget_seconds),
        # One worker: schemathesis 4.32 on CPython 3.11 crashed once in its own threaded code
        # ("AST constructor recursion depth mismatch"), failing the run with no server at fault.
        "--workers", "1",
        "--suppress-health-check", "all",
    ]  # fmt: skip
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=budget_seconds + 100)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-20000:]
    tested = re.search(r"Tested: (\d+)", output)
    assert tested, output[-5000:]
    return output, int(tested.group(1))

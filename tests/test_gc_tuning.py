"""`titan serve` tunes the garbage collector (titan_core.gc_tuning): checked in a child process,
so the test run's own collector keeps its settings."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from titan_core.gc_tuning import SERVING_THRESHOLDS

# a child Python process that imports the whole app (about 1 s of CPU): not in `make test-fast`.
pytestmark = pytest.mark.slow

PROBE = """
import gc, json
from titan_core.gc_tuning import tune_for_serving
import titan_core.app  # what titan serve has imported by then
before = gc.get_freeze_count()
tune_for_serving()
print(json.dumps({"before": before, "frozen": gc.get_freeze_count(), "thresholds": gc.get_threshold()}))
"""


def test_serving_freezes_the_start_up_objects_and_raises_the_thresholds() -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60, check=True
    )
    probe = json.loads(result.stdout)
    assert probe["before"] == 0
    assert probe["frozen"] > 10_000  # the imported libraries and their objects
    assert tuple(probe["thresholds"]) == SERVING_THRESHOLDS


LOAD_PROBE = """
import gc, json, sys
import titan_core.loader
from titan_core.cli import main

async def probe(*args, **kwargs):
    print(json.dumps({"thresholds": gc.get_threshold(), "frozen": gc.get_freeze_count()}))
    return 0

titan_core.loader.load_paths = probe
sys.exit(main(["load", "--database-url", "sqlite+aiosqlite:///" + sys.argv[1], sys.argv[1]]))
"""


def test_titan_load_raises_the_thresholds_before_it_loads(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", LOAD_PROBE, str(tmp_path / "titan.sqlite3")],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    probe = json.loads(result.stdout)
    assert tuple(probe["thresholds"]) == SERVING_THRESHOLDS
    assert probe["frozen"] > 0

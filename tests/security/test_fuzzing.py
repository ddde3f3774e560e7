"""Fuzzing with schemathesis against the server's own `/openapi.json`: every operation, valid and
invalid input, within a time budget of 90 s. No operation answers a server error (Operations,
not implemented, answer their documented 501), the server does not crash, and its log shows no
unhandled exception.

The server runs with authentication on and the fuzzer holds an admin key, so requests get past the
access checks into the handlers. `TITAN_FUZZ_SEED` replays another run (the seed is printed).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.live_server import LiveServer
from tests.support.schemathesis_cli import run_schemathesis

from .live import get, module_server, unhandled_errors
from .twins import KEYS

# a live server fuzzed by schemathesis for up to 90 s: not in `make test-fast`.
pytestmark = pytest.mark.slow

# Enough for schemathesis to reach every operation on a slow 2-core machine (checked below), and
# short enough to keep the whole suite well under 15 minutes there.
BUDGET_SECONDS = 90
CONFIG = Path(__file__).with_name("schemathesis.toml")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    yield from module_server(tmp_path_factory, body_timeout="5")


@pytest.mark.slow  # schemathesis runs for BUDGET_SECONDS against a live server
@pytest.mark.timeout(BUDGET_SECONDS + 120)
def test_no_operation_answers_a_server_error(server: LiveServer, tmp_path: Path) -> None:
    seed = os.environ.get("TITAN_FUZZ_SEED", "1")
    options = [
        "--header", f"Authorization: Bearer {KEYS['admin']}",
        "--max-examples", "10",
        "--seed", seed,
        "--request-timeout", "30",
    ]  # fmt: skip
    output, tested = run_schemathesis(
        server.base_url + "/openapi.json",
        options,
        cwd=tmp_path,
        budget_seconds=BUDGET_SECONDS,
        config_file=CONFIG,
    )
    selected = re.search(r"Selected: (\d+)/(\d+)", output)
    assert selected, output[-5000:]
    assert tested == int(selected.group(2)), f"not every operation was tested:\n{output[-5000:]}"
    assert tested > 100


def test_the_fuzzed_server_logged_no_unhandled_exception_and_still_answers(server: LiveServer) -> None:
    assert server.running()
    assert unhandled_errors(server) == [], server.log()[-20000:]
    assert get(server, "/health", {}) == 200
    assert get(server, "/openapi.json", {}) == 200

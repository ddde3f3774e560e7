"""The webhook plugin as a user installs it: core and plugin from their directories into a fresh
venv. Catches what an editable install hides (a missing package file, a wrong entry point)."""

from __future__ import annotations

import json
import subprocess
import tomllib
from pathlib import Path

import pytest

from tests.support.fresh_venv import DISTRIBUTIONS, fresh_venv_fixture
from titan_core.testing import HttpReceiver

from .end_to_end import create_shell_and_expect_its_webhook, start_titan, webhook_environment

PLUGIN_DIR = DISTRIBUTIONS["titan-aas-webhook"]

pytestmark = pytest.mark.slow


fresh_venv = fresh_venv_fixture("titan-aas-webhook")


def test_titan_plugins_in_a_fresh_venv_lists_the_webhook_plugin(fresh_venv: Path) -> None:
    project = tomllib.loads((PLUGIN_DIR / "pyproject.toml").read_text())["project"]

    result = subprocess.run(
        [str(fresh_venv / "bin" / "titan"), "plugins", "--json"],
        capture_output=True, text=True, timeout=60, check=False, cwd=fresh_venv,
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    webhook = next(plugin for plugin in json.loads(result.stdout) if plugin["name"] == "webhook")
    assert webhook == {
        "name": "webhook", "version": project["version"], "distribution": project["name"], "builtin": False,
        "state": "loaded", "reason": "", "hooks": ["titan_event_sinks", "titan_health", "titan_setup_app"],
    }  # fmt: skip


async def test_webhook_from_a_fresh_venv_delivers_signed_events_and_retries_on_5xx(
    fresh_venv: Path, http_receiver: HttpReceiver, tmp_path: Path
) -> None:
    server = start_titan(
        [str(fresh_venv / "bin" / "titan")],
        f"sqlite+aiosqlite:///{tmp_path}/titan.sqlite3",
        log_dir=tmp_path,
        env=webhook_environment(http_receiver),
        isolated=True,
    )
    try:
        await create_shell_and_expect_its_webhook(server.base_url, http_receiver)
    finally:
        server.stop()
        print(server.log_tail(100))

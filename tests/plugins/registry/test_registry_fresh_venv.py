"""The registry plugin as a user installs it: core and plugin from their directories into a fresh
venv. Catches what an editable install hides: a missing package file (the descriptor schema, the
Alembic revisions), a wrong entry point, a dependency only the development environment has."""

from __future__ import annotations

import json
import tomllib
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.plugins.webhook.end_to_end import start_titan
from tests.support.fresh_venv import DISTRIBUTIONS, fresh_venv_fixture, plugins_in
from titan_core.model.identifiers import encode_identifier

PLUGIN_DIR = DISTRIBUTIONS["titan-aas-registry"]
PROJECT = tomllib.loads((PLUGIN_DIR / "pyproject.toml").read_text())["project"]

# pip installs into a new venv, then `titan serve` runs from it: not in `make test-fast`.
pytestmark = pytest.mark.slow

fresh_venv = fresh_venv_fixture("titan-aas-registry")


def test_titan_plugins_in_a_fresh_venv_lists_the_registry_plugin(fresh_venv: Path) -> None:
    registry = plugins_in(fresh_venv)["registry"]

    assert (registry["version"], registry["distribution"], registry["state"]) == (
        PROJECT["version"], PROJECT["name"], "loaded",
    )  # fmt: skip


def test_the_registry_from_a_fresh_venv_migrates_validates_and_serves(
    fresh_venv: Path, tmp_path: Path
) -> None:
    identifier = "https://plant.example/aas/fresh"
    descriptor = {"id": identifier, "endpoints": [
        {"interface": "AAS-3.0", "protocolInformation": {"href": "https://repo.example/shells/x"}}]}  # fmt: skip
    server = start_titan(
        [str(fresh_venv / "bin" / "titan")],
        f"sqlite+aiosqlite:///{tmp_path}/titan.sqlite3",
        log_dir=tmp_path,
        env={"TITAN_PLUGINS": "registry"},
        isolated=True,
    )
    try:
        created = _send(server.base_url + "/shell-descriptors", "POST", descriptor)
        refused = _send(server.base_url + "/shell-descriptors", "POST", {"id": ""})
        with urllib.request.urlopen(
            f"{server.base_url}/shell-descriptors/{encode_identifier(identifier)}"
        ) as read:
            body = json.loads(read.read())
    finally:
        server.stop()
        print(server.log_tail(100))

    assert (created, refused) == (201, 400)
    assert body == descriptor


def _send(url: str, method: str, document: object) -> int:
    request = urllib.request.Request(
        url, data=json.dumps(document).encode(), method=method, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as refused:
        return int(refused.code)

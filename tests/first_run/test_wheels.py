"""The pip path (issue 12): wheels built from this repository resolve to this project's core and
nothing foreign (`titan-core` on PyPI is an unrelated Snowflake tool with its own `titan` command),
and `pip install titan-aas titan-aas-ws` from them gives the demo twin, the console and the migrations.
"""

from __future__ import annotations

import json
import subprocess
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.support.fresh_venv import DISTRIBUTIONS, build_wheels, new_venv, pip
from tests.support.live_server import LiveServer, launch_serve, server_environment, wait_until_ready
from tests.support.services import LOOPBACK, free_port

pytestmark = pytest.mark.slow

OURS = set(DISTRIBUTIONS)
DEMO_SHELL_ID = "https://example.com/titan-demo/aas/proximity-switch-IPS001-4711"


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return build_wheels(tmp_path_factory.mktemp("wheels"))


@pytest.fixture(scope="module")
def installed_venv(tmp_path_factory: pytest.TempPathFactory, wheels: dict[str, Path]) -> Path:
    """`pip install titan-aas titan-aas-ws`, the two found only in the local wheel folder."""
    venv = new_venv(tmp_path_factory.mktemp("pip-path"))
    pip(venv, "install", "--progress-bar", "off", "--find-links", str(wheels["titan-aas"].parent),
        "titan-aas", "titan-aas-ws")  # fmt: skip
    return venv


@pytest.fixture(scope="module")
def empty_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv with pip only, for dry runs (`--ignore-installed`: nothing installed counts anyway)."""
    return new_venv(tmp_path_factory.mktemp("empty"))


def _report(result: subprocess.CompletedProcess[str]) -> dict[str, dict[str, Any]]:
    """pip's installation report (`--report -`): what would be installed, by distribution name."""
    report = json.loads(result.stdout[result.stdout.index("{") :])
    return {item["metadata"]["name"]: item for item in report["install"]}


def test_the_wheels_carry_the_new_names(wheels: dict[str, Path]) -> None:
    assert sorted(wheel.name.split("-")[0] for wheel in wheels.values()) == [
        "titan_aas", "titan_aas_autoregister", "titan_aas_discovery", "titan_aas_mqtt", "titan_aas_registry",
        "titan_aas_webhook", "titan_aas_ws",
    ]  # fmt: skip


@pytest.mark.parametrize(
    "plugin",
    [
        "titan-aas-ws",
        "titan-aas-mqtt",
        "titan-aas-webhook",
        "titan-aas-registry",
        "titan-aas-discovery",
        "titan-aas-autoregister",
    ],
)
def test_a_plugin_wheel_with_the_index_resolves_to_the_local_core_and_nothing_named_titan_core(
    empty_venv: Path, wheels: dict[str, Path], plugin: str
) -> None:
    result = pip(empty_venv, "install", "--dry-run", "--ignore-installed", "--quiet", "--report", "-",
                 "--find-links", str(wheels["titan-aas"].parent), str(wheels[plugin]))  # fmt: skip
    planned = _report(result)

    assert planned["titan-aas"]["download_info"]["url"] == wheels["titan-aas"].as_uri()
    assert planned[plugin]["download_info"]["url"] == wheels[plugin].as_uri()
    titans = {name for name in planned if name.startswith("titan")}
    assert titans == {"titan-aas", plugin}, titans
    assert not any("snowflake" in name for name in planned)


def test_without_an_index_a_plugin_wheel_needs_nothing_but_the_local_wheels(
    installed_venv: Path, wheels: dict[str, Path]
) -> None:
    # The venv got titan-aas from the wheel folder; third-party packages are installed already.
    result = pip(installed_venv, "install", "--dry-run", "--quiet", "--report", "-", "--no-index",
                 "--find-links", str(wheels["titan-aas"].parent), str(wheels["titan-aas-webhook"]))  # fmt: skip
    listed = json.loads(pip(installed_venv, "list", "--format", "json").stdout)

    assert set(_report(result)) == {"titan-aas-webhook"}
    names = {item["name"] for item in listed}
    assert {"titan-aas", "titan-aas-ws"} <= names and "titan-core" not in names


def _start(venv: Path, tmp_path: Path) -> LiveServer:
    port = free_port()
    log_path = tmp_path / "serve.log"
    argv = [str(venv / "bin" / "titan"), "serve", "--demo", "--host", LOOPBACK, "--port", str(port)]
    environment = server_environment(isolated=True)
    server = launch_serve(argv, port, log_path=log_path, cwd=tmp_path, env=environment)
    return wait_until_ready(
        server,
        lambda: "serving on" in server.log(),
        timeout=120,
        what="titan serve --demo from the wheels serving",
    )


def test_serve_demo_from_the_wheels_serves_the_demo_twin_and_the_console(
    installed_venv: Path, tmp_path: Path
) -> None:
    server = _start(installed_venv, tmp_path)  # in an empty folder: the default database is new there
    try:
        with urllib.request.urlopen(f"{server.base_url}/shells", timeout=30) as response:
            shells = json.loads(response.read())["result"]
        with urllib.request.urlopen(f"{server.base_url}/ws/console", timeout=30) as response:
            console = (response.status, response.headers.get_content_type(), response.read())
        with urllib.request.urlopen(f"{server.base_url}/", timeout=30) as response:
            home = json.loads(response.read())
    finally:
        server.stop()

    assert [shell["id"] for shell in shells] == [DEMO_SHELL_ID]
    assert console[:2] == (200, "text/html") and b"<html" in console[2].lower()
    assert home["links"]["console"]["href"] == "/ws/console"
    assert (tmp_path / "titan.sqlite3").exists()
    assert "--demo: loaded the demo twin into the empty database" in server.log()

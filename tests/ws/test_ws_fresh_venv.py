"""A WebSocket-only deployment, as a user installs it: `titan-aas` and `titan-aas-ws` from their
directories into a fresh venv, no MQTT library anywhere; `titan serve` answers REST and pushes the
change over `/ws/events`, and SIGTERM closes the socket with 1001 (issue 5, "What must hold" 1)."""

from __future__ import annotations

import json
import subprocess
import tomllib
import urllib.error
import urllib.request
from pathlib import Path

import aiohttp
import pytest

from tests.support.fresh_venv import DISTRIBUTIONS, fresh_venv_fixture
from tests.support.live_server import LiveServer, launch_serve, server_environment, wait_until_ready
from tests.support.services import LOOPBACK, free_port

from .helpers import SM_ID, operation_submodel

PLUGIN_DIR = DISTRIBUTIONS["titan-aas-ws"]

pytestmark = pytest.mark.slow


fresh_venv = fresh_venv_fixture("titan-aas-ws")


def test_the_fresh_venv_has_no_mqtt_library_and_lists_only_the_ws_plugin(fresh_venv: Path) -> None:
    python = str(fresh_venv / "bin" / "python")
    isolated = server_environment(isolated=True)
    for module in ("paho", "aiomqtt", "titan_plugin_mqtt", "titan_plugin_webhook"):
        # Run outside the repository: its plugin folders would be importable from the working directory.
        probe = subprocess.run([python, "-c", f"import {module}"], capture_output=True, text=True, check=False,
                               cwd=fresh_venv, env=isolated)  # fmt: skip
        assert probe.returncode != 0 and "ModuleNotFoundError" in probe.stderr, f"{module} is installed"

    listed = subprocess.run(
        [str(fresh_venv / "bin" / "titan"), "plugins", "--json"],
        capture_output=True, text=True, timeout=60, check=False, cwd=fresh_venv, env=isolated,
    )  # fmt: skip

    assert listed.returncode == 0, listed.stderr
    plugins = {plugin["name"]: plugin for plugin in json.loads(listed.stdout) if not plugin["builtin"]}
    version = tomllib.loads((PLUGIN_DIR / "pyproject.toml").read_text())["project"]["version"]
    assert list(plugins) == ["ws"]
    assert (plugins["ws"]["state"], plugins["ws"]["version"]) == ("loaded", version)


def start_titan(venv: Path, tmp_path: Path) -> LiveServer:
    """`titan serve` from the fresh venv only (no PYTHONPATH), ready once `/ready` answers 200."""
    port = free_port()
    log_path = tmp_path / f"titan-serve-{port}.log"
    argv = [str(venv / "bin" / "titan"), "serve", "--host", LOOPBACK, "--port", str(port),
            "--database-url", f"sqlite+aiosqlite:///{tmp_path}/titan.sqlite3"]  # fmt: skip
    environment = server_environment(isolated=True)
    server = launch_serve(argv, port, log_path=log_path, cwd=tmp_path, env=environment)

    def ready() -> bool:
        try:
            with urllib.request.urlopen(f"{server.base_url}/ready", timeout=2) as response:
                return bool(response.status == 200)
        except (urllib.error.URLError, ConnectionError):
            return False

    return wait_until_ready(server, ready, timeout=60, what=f"titan serve on port {port} ready")


async def test_a_ws_only_deployment_serves_rest_and_pushes_events_then_closes_with_1001_on_sigterm(
    fresh_venv: Path, tmp_path: Path
) -> None:
    server = start_titan(fresh_venv, tmp_path)
    ws_url = server.base_url.replace("http", "ws") + "/ws/events"
    try:
        async with aiohttp.ClientSession() as http, http.ws_connect(ws_url) as ws:
            welcome = await ws.receive_json(timeout=5)
            await ws.send_json({"type": "subscribe", "id": "s", "filter": {"ids": [SM_ID]}})
            assert await ws.receive_json(timeout=5) == {"type": "subscribed", "id": "s"}

            async with http.post(f"{server.base_url}/submodels", json=operation_submodel(SM_ID)) as response:
                assert response.status == 201, await response.text()
            message = await ws.receive_json(timeout=10)

            server.process.terminate()  # what a process manager sends
            closing = await ws.receive(timeout=10)

        assert welcome["type"] == "welcome"
        assert (message["subscription"], message["event"]["titanid"]) == ("s", SM_ID)
        assert message["event"]["type"] == "io.admin-shell.events.v1.created"
        assert (closing.type, closing.data, closing.extra) == (
            aiohttp.WSMsgType.CLOSE,
            1001,
            "server shutting down",
        )
        assert server.process.wait(timeout=20) == 0
    finally:
        server.stop()
        print(server.log_tail(100))

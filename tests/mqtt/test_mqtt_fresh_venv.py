"""An MQTT-only deployment: a fresh venv with `titan-aas` and `titan-aas-mqtt` from their
directories and nothing else (no WebSocket plugin), serving REST writes to MQTT and MQTT writes
to REST. Catches what an editable install hides (a missing package file, a wrong entry point)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import tomllib
import urllib.error
import urllib.request
from pathlib import Path

import aiohttp
import paho.mqtt.publish as paho_publish
import pytest

from tests.support.fresh_venv import DISTRIBUTIONS, fresh_venv_fixture
from tests.support.live_server import LiveServer, launch_serve, server_environment, wait_until_ready
from tests.support.services import LOOPBACK, free_port

from .mqtt_helpers import SM_ID, Recorder, b64, broker_host_port, submodel

PLUGIN_DIR = DISTRIBUTIONS["titan-aas-mqtt"]

pytestmark = pytest.mark.slow


fresh_venv = fresh_venv_fixture("titan-aas-mqtt")


def test_the_fresh_venv_has_the_mqtt_plugin_and_no_websocket_plugin(fresh_venv: Path) -> None:
    project = tomllib.loads((PLUGIN_DIR / "pyproject.toml").read_text())["project"]
    python = str(fresh_venv / "bin" / "python")

    listed = subprocess.run(
        [str(fresh_venv / "bin" / "titan"), "plugins", "--json"],
        capture_output=True, text=True, timeout=60, check=False, cwd=fresh_venv, env=server_environment(isolated=True),
    )  # fmt: skip
    websocket = subprocess.run(
        [python, "-c", "import titan_plugin_ws"], capture_output=True, text=True, timeout=60, check=False,
        cwd=fresh_venv, env=server_environment(isolated=True),
    )  # fmt: skip
    distributions = subprocess.run(
        [python, "-m", "pip", "list", "--format=json"], capture_output=True, text=True, timeout=60, check=True,
        env=server_environment(isolated=True),
    )  # fmt: skip

    assert listed.returncode == 0, listed.stderr
    plugins = {plugin["name"]: plugin for plugin in json.loads(listed.stdout)}
    assert {name for name, plugin in plugins.items() if not plugin["builtin"]} == {"mqtt"}
    assert (plugins["mqtt"]["state"], plugins["mqtt"]["version"], plugins["mqtt"]["distribution"]) == (
        "loaded", project["version"], project["name"]
    )  # fmt: skip
    assert plugins["mqtt"]["hooks"] == [
        "titan_event_sinks",
        "titan_health",
        "titan_metrics",
        "titan_setup_app",
    ]
    assert websocket.returncode != 0 and "No module named 'titan_plugin_ws'" in websocket.stderr
    names = {item["name"] for item in json.loads(distributions.stdout)}
    assert {"titan-aas", "titan-aas-mqtt"} <= names and not any(n == "titan-aas-ws" for n in names)


async def test_an_mqtt_only_deployment_publishes_rest_writes_and_applies_device_writes(
    fresh_venv: Path, mqtt_url: str, mqtt_topic_prefix: str, tmp_path: Path
) -> None:
    env = {"TITAN_MQTT_URL": mqtt_url, "TITAN_MQTT_PREFIX": mqtt_topic_prefix}
    server = _start_titan(fresh_venv, f"sqlite+aiosqlite:///{tmp_path}/titan.sqlite3", tmp_path, env)
    host, port = broker_host_port(mqtt_url)
    try:
        async with (
            Recorder(mqtt_url, [f"{mqtt_topic_prefix}/#"]) as recorder,
            aiohttp.ClientSession() as http,
        ):
            async with http.post(f"{server.base_url}/submodels", json=submodel()) as response:
                assert response.status == 201, await response.text()
            await recorder.wait_for(
                lambda _: len(recorder.events()) >= 1, what="the submodel's created event"
            )

            topic = f"{mqtt_topic_prefix}/element/{b64(SM_ID)}/Speed/value"
            await asyncio.to_thread(paho_publish.single, topic, b"17", qos=1, hostname=host, port=port)
            await recorder.wait_for(
                lambda _: len(recorder.events()) >= 2, what="the valueChanged of the write"
            )

            url = f"{server.base_url}/submodels/{b64(SM_ID)}/submodel-elements/Speed/$value"
            async with http.get(url) as response:
                assert await response.json() == 17
            async with http.get(f"{server.base_url}/ready") as response:
                ready = await response.json()
    finally:
        server.stop()
        print(server.log_tail(100))

    created, changed = (message.envelope() for message in recorder.events())
    assert (created["type"], changed["type"], changed["titanorigin"]) == (
        "io.admin-shell.events.v1.created", "io.admin-shell.events.v1.valueChanged", "mqtt"
    )  # fmt: skip
    mqtt = next(check for check in ready["checks"] if check["plugin"] == "mqtt")
    assert mqtt["ok"] is True and "1 applied" in mqtt["detail"]


def _start_titan(venv: Path, database_url: str, log_dir: Path, env: dict[str, str]) -> LiveServer:
    port = free_port()
    log_path = log_dir / f"titan-serve-{port}.log"
    argv = [str(venv / "bin" / "titan"), "serve", "--host", LOOPBACK, "--port", str(port),
            "--database-url", database_url]  # fmt: skip
    environment = server_environment(env, isolated=True)
    server = launch_serve(argv, port, log_path=log_path, cwd=log_dir, env=environment)

    def ready() -> bool:
        try:
            with urllib.request.urlopen(f"{server.base_url}/ready", timeout=2) as response:
                body = json.loads(response.read())
        except urllib.error.HTTPError:
            return False
        return any(check["plugin"] == "mqtt" and check["ok"] for check in body["checks"])

    return wait_until_ready(
        server, ready, timeout=60, what=f"titan serve on port {port} ready and connected to MQTT"
    )

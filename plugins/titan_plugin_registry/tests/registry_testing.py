"""What the registry plugin's tests share: descriptors to register, API key entries, reading the
IDTA error body and the events a write produced. The fixtures are in conftest.py.

Only `titan_core.testing` and `titan_core.plugin_api` from Titan, as for any third-party plugin.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from titan_core.plugin_api import encode_identifier
from titan_core.testing import AppClient, stop_process, unused_port, wait_for_delivery


def b64(identifier: str) -> str:
    return encode_identifier(identifier)


def endpoint(href: str, interface: str = "AAS-3.0") -> dict[str, Any]:
    return {"interface": interface, "protocolInformation": {"href": href, "endpointProtocol": "HTTP"}}


def submodel_descriptor(identifier: str, *, semantic_id: str | None = None) -> dict[str, Any]:
    document: dict[str, Any] = {
        "id": identifier,
        "idShort": "Nameplate",
        "endpoints": [endpoint(f"https://repo.example/submodels/{b64(identifier)}", "SUBMODEL-3.0")],
    }
    if semantic_id:
        document["semanticId"] = {
            "type": "ExternalReference",
            "keys": [{"type": "GlobalReference", "value": semantic_id}],
        }
    return document


def shell_descriptor(
    identifier: str,
    *,
    asset_kind: str = "Instance",
    asset_type: str | None = None,
    global_asset_id: str | None = None,
    submodels: tuple[dict[str, Any], ...] = (),
) -> dict[str, Any]:
    document: dict[str, Any] = {
        "id": identifier,
        "idShort": "Pump",
        "assetKind": asset_kind,
        "endpoints": [endpoint(f"https://repo.example/shells/{b64(identifier)}")],
    }
    if asset_type is not None:
        document["assetType"] = asset_type
    if global_asset_id is not None:
        document["globalAssetId"] = global_asset_id
    if submodels:
        document["submodelDescriptors"] = list(submodels)
    return document


def api_key_entry(key: str, subject: str, role: str, *scopes: str) -> str:
    """An `api_keys` setting entry for `key` (what `titan keys new` prints)."""
    entry = f"sha256:{hashlib.sha256(key.encode()).hexdigest()};subject={subject};role={role}"
    return entry + "".join(f";scope={scope}" for scope in scopes)


async def messages(response: Any) -> list[str]:
    """The texts of an IDTA error body (checking that it is one)."""
    body = await response.json()
    assert set(body) == {"messages"}, body
    assert all(message["messageType"] == "Error" for message in body["messages"]), body
    assert all(message["code"] == str(response.status) for message in body["messages"]), body
    return [message["text"] for message in body["messages"]]


async def registry_events(client: AppClient, count: int, *, after: int = 0) -> list[dict[str, Any]]:
    """The first `count` events of the registry's kinds after `after`, waiting for them to be published."""
    found: list[dict[str, Any]] = []

    async def arrived() -> bool:
        response = await client.get(
            "/events",
            params={
                "after": str(after),
                "limit": "1000",
                "entity_types": "shell_descriptor,submodel_descriptor",
            },
        )
        assert response.status == 200, await response.text()
        found[:] = (await response.json())["result"]
        return len(found) >= count

    await wait_for_delivery(arrived, timeout=10, message=lambda: f"{len(found)} of {count} events arrived")
    return found


class TitanProcess:
    """`titan serve` as a real process on a free loopback port, with the registry plugin only.

    For clients that need a server of their own (schemathesis, third-party clients): started by
    `start()`, which waits for `/ready` (with a deadline), stopped by `stop()`; `log()` is its output.
    """

    def __init__(self, directory: Path, **environment: str) -> None:
        self.directory = directory
        self.port = unused_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.environment = {
            **os.environ,
            "TITAN_DATABASE_URL": f"sqlite+aiosqlite:///{directory}/titan.sqlite3",
            "TITAN_PLUGINS": "registry",
            "TITAN_LOG_LEVEL": "WARNING",
            **environment,
        }
        self.log_path = directory / "titan.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60.0) -> None:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "titan_core", "serve", "--host", "127.0.0.1", "--port", str(self.port)],
                cwd=self.directory, env=self.environment, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"titan serve exited with {self.process.returncode}:\n{self.log()}")
            try:
                with urllib.request.urlopen(self.url + "/ready", timeout=2) as answer:
                    if answer.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.1)
        self.stop()
        raise AssertionError(f"titan serve was not ready after {timeout} s:\n{self.log()}")

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process, grace=20)

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

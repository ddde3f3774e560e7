"""schemathesis against the IDTA Discovery OpenAPI file (V3.1, SSP-001), with a `titan serve` process
that has the plugin: no operation answers a server error, and every answer matches the file
(status codes, bodies, content types)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from titan_core.testing import unused_port

# schemathesis as a process for up to a minute and a server process: not in `make test-fast`.
pytestmark = pytest.mark.slow

DATA = Path(__file__).with_name("data")
BUDGET_SECONDS = 60
# The Discovery file refers to the Part 1 and Part 2 schema files as published on swaggerhub.
_SWAGGERHUB = re.compile(
    r"https://api\.swaggerhub\.com/domains/Plattform_i40/Part[12]-[A-Za-z]+-Schemas/V3\.1\.2#"
)


def bundled_spec() -> dict[str, Any]:
    """The Discovery file with the Part 1 and Part 2 components merged in and its `$ref`s made local."""
    document: dict[str, Any] = yaml.safe_load(
        (DATA / "discovery-v3.1-ssp-001.yaml").read_text(encoding="utf-8")
    )
    components: dict[str, dict[str, Any]] = {}
    for part in ("part1-metamodel-schemas-v3.1.yaml", "part2-api-schemas-v3.1.yaml"):
        for section, entries in yaml.safe_load((DATA / part).read_text(encoding="utf-8"))[
            "components"
        ].items():
            components.setdefault(section, {}).update(entries)
    document["components"] = components
    document["servers"] = [{"url": "/"}]
    return dict(json.loads(_SWAGGERHUB.sub("#", json.dumps(document))))


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    """`titan serve` with only the discovery plugin, on SQLite, one shell with asset ids stored."""
    port = unused_port()
    environment = {
        **os.environ,
        "TITAN_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/titan.sqlite3",
        "TITAN_PLUGINS": "discovery",
    }
    log = (tmp_path / "serve.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "titan_core", "serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=tmp_path, env=environment, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    base_url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_serving(base_url, process, tmp_path / "serve.log")
        shell = {"id": "urn:pump:1", "modelType": "AssetAdministrationShell",
                 "assetInformation": {"assetKind": "Instance", "globalAssetId": "urn:asset:1",
                                      "specificAssetIds": [{"name": "serialNumber", "value": "4711"}]}}  # fmt: skip
        request = urllib.request.Request(f"{base_url}/shells", data=json.dumps(shell).encode(),
                                         headers={"Content-Type": "application/json"}, method="POST")  # fmt: skip
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 201
        yield base_url
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def _wait_until_serving(base_url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"titan serve exited with {process.returncode}:\n{log.read_text()[-5000:]}")
        try:
            with urllib.request.urlopen(f"{base_url}/health", timeout=2):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"titan serve did not answer /health within 60 s:\n{log.read_text()[-5000:]}")


def test_the_file_is_the_idta_discovery_profile() -> None:
    document = yaml.safe_load((DATA / "discovery-v3.1-ssp-001.yaml").read_text(encoding="utf-8"))
    assert document["info"]["x-profile-identifier"].endswith("/3/1/DiscoveryServiceSpecification/SSP-001")
    assert "https://api.swaggerhub.com" not in json.dumps(bundled_spec())


# What `schemathesis run` checks and how hard it tries; the run is seeded, so a failure replays.
RUN_OPTIONS = {
    "--checks": "not_a_server_error,response_schema_conformance,content_type_conformance",
    "--phases": "examples,coverage,fuzzing",
    "--max-examples": "20",
    "--max-time": str(BUDGET_SECONDS),
    "--workers": "1",
    "--seed": "1",
    "--suppress-health-check": "all",
}
SCHEMATHESIS = "import sys; from schemathesis.cli import schemathesis; sys.exit(schemathesis())"


@pytest.mark.timeout(BUDGET_SECONDS + 180)
def test_discovery_answers_as_the_openapi_file_says(server: str, tmp_path: Path) -> None:
    spec = tmp_path / "discovery.json"
    spec.write_text(json.dumps(bundled_spec()))
    options = [part for option in RUN_OPTIONS.items() for part in option]

    run = subprocess.run(
        [sys.executable, "-c", SCHEMATHESIS, "--no-color", "run", str(spec), "--url", server, *options],
        cwd=tmp_path, capture_output=True, text=True, timeout=BUDGET_SECONDS + 150,
    )  # fmt: skip

    report = run.stdout + run.stderr
    assert run.returncode == 0, report[-20000:]
    # Five Discovery operations and /description, every one of them.
    assert re.search(r"Tested: 6\b", report), report[-5000:]

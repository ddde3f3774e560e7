"""End to end with real processes: instance A (repository) registers its twins into instance B
(registry only). B is killed in the middle of a burst of shell writes on A and started again:
afterwards B's AAS descriptors are exactly A's shells, and a client that knows only a shell's id
finds its descriptor on B and reads the shell from A through the descriptor's endpoint."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from registry_testing import TitanProcess, b64, shell

# two `titan serve` processes and a few hundred requests: not in `make test-fast`.
pytestmark = pytest.mark.slow


def call(method: str, url: str, document: Any = None) -> tuple[int, Any]:
    data = json.dumps(document).encode() if document is not None else None
    request = urllib.request.Request(
        url, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            body = answer.read()
            return answer.status, json.loads(body) if body else None
    except urllib.error.HTTPError as refused:
        return refused.code, None


def every_id(base_url: str, collection: str) -> list[str]:
    found: list[str] = []
    cursor = ""
    while True:
        status, page = call(
            "GET", f"{base_url}{collection}?limit=100" + (f"&cursor={cursor}" if cursor else "")
        )
        assert status == 200, (status, page)
        found += [item["id"] for item in page["result"]]
        cursor = page["paging_metadata"].get("cursor", "")
        if not cursor:
            return found


@pytest.mark.timeout(300)
def test_a_registry_killed_during_a_burst_of_writes_ends_up_with_every_shell(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    registry = TitanProcess(tmp_path / "b", TITAN_SERVICES="aas-registry,submodel-registry")
    repository = TitanProcess(tmp_path / "a", TITAN_SINK_RETRY_MAX_MS="500")
    repository.environment |= {
        "TITAN_REGISTRY_SYNC_TO": registry.url,
        "TITAN_REGISTRY_ENDPOINT_BASE_URL": repository.url,
    }
    registry.start()
    repository.start()
    identifiers = [f"https://plant.example/aas/burst-{number}" for number in range(150)]
    try:
        for number, identifier in enumerate(identifiers):
            if number == 50:
                registry.kill()
            assert call("POST", f"{repository.url}/shells", shell(identifier))[0] == 201
        for identifier in identifiers[40:60]:
            assert call("DELETE", f"{repository.url}/shells/{b64(identifier)}")[0] == 204
        registry.start()

        expected = sorted(every_id(repository.url, "/shells"))
        deadline = time.monotonic() + 120
        registered: list[str] = []
        while time.monotonic() < deadline:
            registered = sorted(every_id(registry.url, "/shell-descriptors"))
            if registered == expected:
                break
            time.sleep(0.5)

        assert len(expected) == 130
        assert registered == expected, f"{len(registered)} descriptors for {len(expected)} shells"
        status, descriptor = call("GET", f"{registry.url}/shell-descriptors/{b64(identifiers[100])}")
        href = descriptor["endpoints"][0]["protocolInformation"]["href"]
        assert status == 200 and href == f"{repository.url}/shells/{b64(identifiers[100])}"
        assert call("GET", href) == (200, shell(identifiers[100]))
    finally:
        repository.stop()
        registry.stop()
        print(repository.log()[-3000:], registry.log()[-3000:])

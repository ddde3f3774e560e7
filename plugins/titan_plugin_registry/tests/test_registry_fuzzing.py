"""schemathesis against the IDTA OpenAPI files of both services (AAS Registry SSP-001, Submodel
Registry SSP-001, copied unchanged into tests/data): on a real `titan serve`, no operation answers a
server error, and every answer matches the file (status codes, content types, bodies).

The files' `$ref`s to swaggerhub are pointed at the Part 1 and Part 2 schema files beside them.
`TITAN_FUZZ_SEED` replays another run.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from descriptor_schema_source import local_refs
from registry_testing import TitanProcess

# A live server fuzzed for up to a minute per service: not in `make test-fast`.
pytestmark = pytest.mark.slow

DATA = Path(__file__).with_name("data")
SERVICES = {
    "AssetAdministrationShellRegistryServiceSpecification": 11,  # operations in the file
    "SubmodelRegistryServiceSpecification": 6,
}
BUDGET_SECONDS = 60


def resolved(service: str) -> dict[str, Any]:
    """The service's SSP-001 file with the Part 1 and Part 2 components merged in and its `$ref`s local."""
    document: dict[str, Any] = yaml.safe_load(
        (DATA / service / "V3.1_SSP-001.yaml").read_text(encoding="utf-8")
    )
    components: dict[str, Any] = document.setdefault("components", {})
    for name in ("Part1-MetaModel-Schemas", "Part2-API-Schemas"):
        source = yaml.safe_load((DATA / name / "openapi.yaml").read_text(encoding="utf-8"))
        for section, entries in source["components"].items():
            components.setdefault(section, {}).update(entries)
    return {**local_refs(document), "servers": [{"url": "/"}]}


@pytest.mark.parametrize("service", list(SERVICES))
def test_the_file_is_the_idta_ssp_001(service: str) -> None:
    document = yaml.safe_load((DATA / service / "V3.1_SSP-001.yaml").read_text(encoding="utf-8"))

    operations = [method for item in document["paths"].values() for method in item if method != "parameters"]

    assert document["info"]["x-profile-identifier"] == f"https://admin-shell.io/aas/API/3/1/{service}/SSP-001"
    assert len(operations) == SERVICES[service]


@pytest.mark.timeout(BUDGET_SECONDS + 150)
@pytest.mark.parametrize("service", list(SERVICES))
def test_the_registry_answers_as_the_openapi_file_says(
    titan_process: TitanProcess, tmp_path: Path, service: str
) -> None:
    spec = tmp_path / f"{service}.json"
    spec.write_text(json.dumps(resolved(service)))
    command = [
        sys.executable, "-c", "import sys; from schemathesis.cli import schemathesis; sys.exit(schemathesis())",
        "--no-color", "run", str(spec), "--url", titan_process.url,
        "--checks", "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
        "--phases", "examples,coverage,fuzzing,stateful",
        "--max-examples", "20", "--max-time", str(BUDGET_SECONDS), "--workers", "1",
        "--seed", os.environ.get("TITAN_FUZZ_SEED", "1"), "--request-timeout", "30",
        "--suppress-health-check", "all",
    ]  # fmt: skip

    result = subprocess.run(
        command, cwd=tmp_path, capture_output=True, text=True, timeout=BUDGET_SECONDS + 120
    )

    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-20000:] + "\n--- server log ---\n" + titan_process.log()[-5000:]
    tested = re.search(r"Tested: (\d+)", output)
    assert tested and int(tested.group(1)) == SERVICES[service], output[-5000:]
    assert titan_process.running(), titan_process.log()[-5000:]
    assert "Traceback" not in titan_process.log(), titan_process.log()[-20000:]

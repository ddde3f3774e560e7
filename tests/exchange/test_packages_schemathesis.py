"""schemathesis against the IDTA AASX File Server OpenAPI file (SSP-001): no operation answers a server
error, and every answer matches the file's schema (status codes, bodies, headers)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.schemathesis_cli import run_schemathesis
from titan_core.api.openapi import official_documents

# schemathesis as a process for up to a minute: not in `make test-fast`.
pytestmark = pytest.mark.slow

SPEC = Path(__file__).parent.parent / "data" / "openapi" / "AasxFileServer-V3.1_SSP-001.yaml"
_REMOTE = re.compile(
    r"^https://api\.swaggerhub\.com/domains/Plattform_i40/Part[12]-[A-Za-z]+-Schemas/[^#]*(#.*)$"
)
BUDGET_SECONDS = 60


def resolved_spec() -> dict[str, Any]:
    """The SSP-001 file with its swaggerhub `$ref`s pointing at the Part 1 and Part 2 components, merged in."""
    document: dict[str, Any] = yaml.safe_load(SPEC.read_text(encoding="utf-8"))
    _entire, part1, part2 = official_documents()
    components: dict[str, Any] = document.setdefault("components", {})
    for source in (part1, part2):
        for section, entries in source.get("components", {}).items():
            components.setdefault(section, {}).update(entries)

    def local(node: Any) -> Any:
        if isinstance(node, dict):
            return {
                key: (_REMOTE.sub(r"\1", value) if key == "$ref" and isinstance(value, str) else local(value))
                for key, value in node.items()
            }
        if isinstance(node, list):
            return [local(item) for item in node]
        return node

    result: dict[str, Any] = local(document)
    result["servers"] = [{"url": "/"}]
    # Only the profile's own routes: /description belongs to every profile and is tested elsewhere.
    result["paths"] = {path: item for path, item in result["paths"].items() if path.startswith("/packages")}
    return result


def test_the_file_is_the_idta_one() -> None:
    document = yaml.safe_load(SPEC.read_text(encoding="utf-8"))
    assert document["info"]["x-profile-identifier"].endswith("AasxFileServerServiceSpecification/SSP-001")


@pytest.mark.timeout(BUDGET_SECONDS + 120)
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_packages_answer_as_the_openapi_file_says(live_server: str, tmp_path: Path) -> None:
    spec = tmp_path / "ssp-001.json"
    spec.write_text(json.dumps(resolved_spec()))
    checks = "not_a_server_error,response_schema_conformance,content_type_conformance"
    options = ["--url", live_server, "--checks", checks, "--max-examples", "20", "--seed", "1"]
    output, tested = run_schemathesis(str(spec), options, cwd=tmp_path, budget_seconds=BUDGET_SECONDS)
    assert tested == 5, output[-5000:]

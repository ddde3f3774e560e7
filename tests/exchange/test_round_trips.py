"""Model-equal round trips through Titan: JSON in, AASX or XML out, read back; the IDTA samples load."""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aas_core3 import jsonization

from titan_core.auth import ANONYMOUS
from titan_core.exchange.aasx import read_aasx
from titan_core.exchange.export import ExportPlan, json_chunks, write_aasx_export, xml_chunks
from titan_core.exchange.files import take_package_files
from titan_core.exchange.xml import read_xml_environment
from titan_core.loader import prepare_file
from titan_core.model.verify import parse_and_verify
from titan_core.store.repository import Repository

DATA = Path(__file__).parent.parent / "data"
CORPUS = sorted((DATA / "aas-core-testgen-sample" / "ContainedInEnvironment" / "Expected").rglob("*.json"))
IDTA = sorted((DATA / "idta").glob("*.json")) + sorted((DATA / "idta").glob("*.aasx"))
SECTIONS = ("assetAdministrationShells", "submodels", "conceptDescriptions")


def model(environment: dict[str, Any]) -> Any:
    """The environment as aas-core normalises it: what "model-equal" compares."""
    return jsonization.to_jsonable(jsonization.environment_from_jsonable(environment))


def plan_of(environment: dict[str, Any]) -> ExportPlan:
    def ids(section: str) -> list[str]:
        return list(dict.fromkeys(item["id"] for item in environment.get(section) or ()))

    return ExportPlan(*(ids(section) for section in SECTIONS))


async def _text(chunks: AsyncIterator[str]) -> str:
    return "".join([chunk async for chunk in chunks])


def test_the_corpus_is_there() -> None:
    assert len(CORPUS) >= 250 and len(IDTA) >= 14


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_json_to_aasx_and_xml_and_back_is_model_equal_for_every_valid_corpus_file(
    repository: Repository,
) -> None:
    failures: list[str] = []
    for path in CORPUS:
        environment = json.loads(path.read_text(encoding="utf-8"))
        verified = parse_and_verify("environment", environment).jsonable
        await repository.import_environment(verified, origin="load", principal=ANONYMOUS)
        plan = plan_of(environment)
        expected = model(environment)

        package = io.BytesIO()
        await write_aasx_export(package, repository, plan, principal=ANONYMOUS)
        package.seek(0)
        from_aasx = read_aasx(package, path.name).environment
        xml = await _text(xml_chunks(repository, plan, principal=ANONYMOUS))
        from_xml = read_xml_environment(io.BytesIO(xml.encode()), path.name)
        from_json = json.loads(await _text(json_chunks(repository, plan, principal=ANONYMOUS)))
        for label, result in (("aasx", from_aasx), ("xml", from_xml), ("json", from_json)):
            if model(result) != expected:
                failures.append(f"{path.relative_to(DATA)} via {label}")
    assert not failures, failures[:20]


@pytest.mark.parametrize("path", IDTA, ids=[path.name for path in IDTA])
def test_every_idta_sample_loads_leniently_or_strictly_refused_only_for_named_violations(path: Path) -> None:
    strict = prepare_file(path, lenient=False)
    lenient = prepare_file(path, lenient=True)
    assert not lenient.error, lenient.error
    assert lenient.environment.get("submodels"), "a sample without submodels read as empty"
    if lenient.violations:
        assert strict.error.startswith("refused:") and strict.suggest_lenient
        # Every violation named, with its path and constraint, up to the listed maximum.
        for violation in lenient.violations[:50]:
            assert violation in strict.error
    else:
        assert not strict.error, strict.error


async def test_an_aasx_sample_keeps_its_files_as_attachments(repository: Repository) -> None:
    prepared = prepare_file(DATA / "idta" / "IDTA_02004-2-0_Example_HandoverDocumentation.aasx", lenient=True)
    assert prepared.files, "the sample's PDFs and previews were not found"
    counts = await repository.import_environment(
        prepared.environment, files=prepared.files, origin="load", principal=ANONYMOUS
    )
    assert counts.created > 0
    for kind, identifier, path, attachment in prepared.files:
        stored = await repository.get_attachment(kind, identifier, path, principal=ANONYMOUS)
        assert stored == attachment
        # The File value names the attachment's file, as an upload through the API would.
        assert attachment.file_name and attachment.data


async def test_an_exported_package_carries_the_attachments_and_they_come_back(repository: Repository) -> None:
    prepared = prepare_file(DATA / "idta" / "IDTA_02003_Sample_TechnicalData.aasx", lenient=True)
    await repository.import_environment(
        prepared.environment, files=prepared.files, origin="load", principal=ANONYMOUS
    )
    package = io.BytesIO()
    await write_aasx_export(package, repository, plan_of(prepared.environment), principal=ANONYMOUS)
    package.seek(0)
    content = read_aasx(package, "export.aasx")
    # In the package, File values are the part names the files are stored under.
    values = [
        element["value"]
        for element in content.environment["submodels"][0]["submodelElements"][0]["value"]
        if element.get("modelType") == "File"
    ]
    assert values and all(value.startswith("/aasx/files/") for value in values)
    back = take_package_files(content)
    assert sorted((f.path, f.attachment) for f in back) == sorted(
        (path, attachment) for _kind, _id, path, attachment in prepared.files
    )
    assert model(content.environment) == model(prepared.environment)

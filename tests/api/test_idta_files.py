"""Every real IDTA JSON file loads (leniently where it breaks rules) and GET returns it equal to the input.

The published files break small rules (empty strings, idShorts on list items, values that do not fit
their valueType). Strict loading refuses them, naming each violation and how to load anyway;
`--lenient` stores them unchanged and reports every violation. aas-core's JSON round trip leaves
all of these files exactly as they are (no normalisation), so "equal" means equal JSON values.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from tests.support.app import AppClientFactory
from tests.support.data import IDTA_DIR, data_file, data_files
from titan_core.auth import ANONYMOUS
from titan_core.loader import load_environment, load_paths
from titan_core.model.verify import parse_and_verify
from titan_core.settings import Settings
from titan_core.store.database import Database
from titan_core.store.repository import Repository

from .helpers import assert_idta_error, cd_url, get_json, shell_url, submodel_url

IDTA_FILES = data_files(IDTA_DIR, at_least=8)
_KINDS = (
    ("assetAdministrationShells", shell_url, ""),
    ("submodels", submodel_url, "?extent=withBlobValue"),
    ("conceptDescriptions", cd_url, ""),
)


def _violations(environment: Any) -> list[str]:
    return [
        str(violation) for violation in parse_and_verify("environment", environment, lenient=True).violations
    ]


def test_the_idta_files_are_there() -> None:
    assert len(IDTA_FILES) >= 8, IDTA_FILES


@pytest.mark.parametrize("path", IDTA_FILES, ids=[path.name for path in IDTA_FILES])
async def test_idta_file_loads_leniently_and_reads_back_equal(
    path: Path, settings: Settings, make_app_client: AppClientFactory
) -> None:
    environment = json.loads(path.read_text(encoding="utf-8"))
    violations = _violations(environment)

    report = io.StringIO()
    database = Database(settings.database_url)
    try:
        await database.migrate()
        counts = await load_environment(
            Repository(database), environment, lenient=True, out=report, label=str(path), operator=ANONYMOUS
        )
    finally:
        await database.close()
    total = sum(len(environment.get(section) or ()) for section, _, _ in _KINDS)
    assert counts == {"created": total, "updated": 0, "unchanged": 0}
    reported = report.getvalue().splitlines()
    assert len(reported) == len(violations)
    for line, violation in zip(reported, violations, strict=True):
        assert line == f"{path}: stored despite violation: {violation}"

    client = await make_app_client()
    for section, url_of, query in _KINDS:
        for item in environment.get(section) or ():
            assert await get_json(client, url_of(item["id"]) + query) == item, f"{section} {item['id']}"
    everything = await get_json(client, "/serialization")
    for section, _, _ in _KINDS:
        assert everything.get(section, []) == environment.get(section, []), section


@pytest.mark.parametrize("path", IDTA_FILES, ids=[path.name for path in IDTA_FILES])
async def test_strict_load_refuses_a_file_with_violations_naming_them(
    path: Path, settings: Settings, make_app_client: AppClientFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    environment = json.loads(path.read_text(encoding="utf-8"))
    violations = _violations(environment)
    code = await load_paths(settings, [path], lenient=False)
    captured = capsys.readouterr()
    client = await make_app_client()
    if not violations:
        assert code == 0, captured.err
        assert len((await get_json(client, "/submodels"))["result"]) == len(environment["submodels"])
        return
    assert code == 1
    assert str(path) in captured.err and "refused" in captured.err
    assert f"violates {len(violations)} constraint" in captured.err
    for violation in violations[:50]:
        assert violation in captured.err
    assert "--lenient" in captured.err
    # Nothing of a refused file is stored.
    assert await get_json(client, "/serialization") == {}


async def test_leniently_loaded_submodel_takes_value_writes_but_rest_stays_strict(
    settings: Settings, make_app_client: AppClientFactory
) -> None:
    path = data_file(IDTA_DIR, "IDTA_02006-3-0_Template_Digital_Nameplate.json")
    environment = json.loads(path.read_text(encoding="utf-8"))
    assert await load_paths(settings, [path], lenient=True) == 0
    client = await make_app_client()
    submodel = environment["submodels"][0]
    url = submodel_url(submodel["id"])
    first_property = next(
        e for e in submodel["submodelElements"] if e["modelType"] == "MultiLanguageProperty"
    )

    # A value write checks only the value, so the rest of the (invalid) submodel does not block it.
    path_url = f"{url}/submodel-elements/{first_property['idShort']}/$value"
    response = await client.patch(path_url, json=[{"en": "Written"}])
    assert response.status == 204, await response.text()
    # The REST API itself never stores invalid data: the file's submodel is refused by PUT.
    response = await client.put(url, json=submodel)
    await assert_idta_error(response, 400, "AASd-120")

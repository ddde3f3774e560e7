"""`titan load` as a user runs it (`python -m titan_core load …`): exit codes, messages, idempotent upserts."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from aas_core3 import jsonization, xmlization

from tests.support.app import AppClientFactory
from tests.support.data import IDTA_DIR, data_file
from tests.support.live_server import server_environment

from .helpers import cd_url, get_json, prop, shell_url, submodel, submodel_url

# each test runs `titan load` as a process (about 1 s of CPU each): not in `make test-fast`.
pytestmark = pytest.mark.slow

VALID_FILE = data_file(IDTA_DIR, "IDTA_02008-1-1_Template_TimeSeriesData.json")  # no violations
INVALID_FILE = data_file(IDTA_DIR, "IDTA_02035-3_DBP-Part-3_ProductCarbonFootprint.json")  # 4 violations
SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def titan_load(database_url: str, *args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "titan_core", "load", "--database-url", database_url, *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        env=server_environment(),
    )


def _counts(environment: dict[str, Any]) -> int:
    return sum(
        len(environment.get(key) or ())
        for key in ("assetAdministrationShells", "submodels", "conceptDescriptions")
    )


def _environment(*submodels: dict[str, Any]) -> dict[str, Any]:
    return {"submodels": list(submodels)}


async def _etags(make_app_client: AppClientFactory, environment: dict[str, Any]) -> dict[str, str]:
    client = await make_app_client()
    tags: dict[str, str] = {}
    for key, url_of in (
        ("assetAdministrationShells", shell_url),
        ("submodels", submodel_url),
        ("conceptDescriptions", cd_url),
    ):
        for item in environment.get(key) or ():
            response = await client.get(url_of(item["id"]))
            assert response.status == 200, await response.text()
            tags[item["id"]] = response.headers["ETag"]
    await client.close()
    return tags


async def test_loading_twice_creates_then_leaves_everything_unchanged(
    database_url: str, tmp_path: Path, make_app_client: AppClientFactory
) -> None:
    environment = json.loads(VALID_FILE.read_text(encoding="utf-8"))
    total = _counts(environment)
    first = titan_load(database_url, VALID_FILE, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert f"{VALID_FILE}: {total} created, 0 updated, 0 unchanged" in first.stdout
    tags = await _etags(make_app_client, environment)

    second = titan_load(database_url, VALID_FILE, cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    assert f"{VALID_FILE}: 0 created, 0 updated, {total} unchanged" in second.stdout
    assert await _etags(make_app_client, environment) == tags


async def test_loading_a_changed_file_updates_only_what_changed(
    database_url: str, tmp_path: Path, make_app_client: AppClientFactory
) -> None:
    path = tmp_path / "env.json"
    path.write_text(json.dumps(_environment(submodel("urn:sm:a", prop("P", "1")), submodel("urn:sm:b"))))
    assert titan_load(database_url, path, cwd=tmp_path).returncode == 0
    path.write_text(json.dumps(_environment(submodel("urn:sm:a", prop("P", "2")), submodel("urn:sm:b"))))
    result = titan_load(database_url, path, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"{path}: 0 created, 1 updated, 1 unchanged" in result.stdout
    client = await make_app_client()
    assert (await get_json(client, f"{submodel_url('urn:sm:a')}/submodel-elements/P"))["value"] == "2"


async def test_a_directory_loads_every_json_and_xml_file_below_it(
    database_url: str, tmp_path: Path, make_app_client: AppClientFactory
) -> None:
    folder = tmp_path / "data"
    (folder / "nested").mkdir(parents=True)
    (folder / "a.json").write_text(json.dumps(_environment(submodel("urn:sm:a"))))
    (folder / "nested" / "b.json").write_text(json.dumps(_environment(submodel("urn:sm:b"))))
    xml_environment = jsonization.environment_from_jsonable(
        _environment(submodel("urn:sm:c", prop("X", "x")))
    )
    (folder / "nested" / "c.xml").write_text(xmlization.to_str(xml_environment))
    (folder / "notes.txt").write_text("not an environment")
    result = titan_load(database_url, folder, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("1 created") == 3
    client = await make_app_client()
    listed = await get_json(client, "/submodels")
    assert sorted(item["id"] for item in listed["result"]) == ["urn:sm:a", "urn:sm:b", "urn:sm:c"]
    assert (await get_json(client, f"{submodel_url('urn:sm:c')}/submodel-elements/X"))["value"] == "x"


@SQLITE_ONLY
def test_a_missing_file_fails_with_its_name_and_the_others_still_load(
    database_url: str, tmp_path: Path
) -> None:
    good = tmp_path / "good.json"
    good.write_text(json.dumps(_environment(submodel("urn:sm:a"))))
    missing = tmp_path / "missing.json"
    result = titan_load(database_url, missing, good, cwd=tmp_path)
    assert result.returncode == 1
    assert f"{missing}: no such file" in result.stderr
    assert f"{good}: 1 created" in result.stdout


@SQLITE_ONLY
def test_a_folder_without_environment_files_is_exit_code_2(database_url: str, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    result = titan_load(database_url, tmp_path / "empty", cwd=tmp_path)
    assert result.returncode == 2
    assert "no .json, .xml or .aasx files" in result.stderr


@SQLITE_ONLY
def test_strict_load_refuses_an_invalid_file_and_says_how_to_load_it_anyway(
    database_url: str, tmp_path: Path
) -> None:
    result = titan_load(database_url, INVALID_FILE, cwd=tmp_path)
    assert result.returncode == 1
    assert f"{INVALID_FILE}: refused" in result.stderr
    assert "violates 4 constraint" in result.stderr
    assert "submodels[0].submodelElements[0]" in result.stderr and "AASd-120" in result.stderr
    assert "--lenient" in result.stderr

    lenient = titan_load(database_url, "--lenient", INVALID_FILE, cwd=tmp_path)
    assert lenient.returncode == 0, lenient.stderr
    assert lenient.stdout.count("stored despite violation") == 4
    assert "0 updated, 0 unchanged" in lenient.stdout


@SQLITE_ONLY
@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'{"submodels": [', "not valid JSON"),
        (b"\xff\xfe{}", "not UTF-8"),
        (b'{"submodels": [{"modelType": "Submodel"}]}', "id"),
        (b'{"submodels": {"a": 1}}', "submodels"),
        (b"[]", "Environment"),
        (b'{"submodels": [{"modelType": "Submodel", "id": "urn:x", "n": ' + b"1" * 5000 + b"}]}", "digits"),
        (b'{"submodels": [{"modelType": "Submodel", "id": "urn:x", "n": NaN}]}', "NaN is not JSON"),
        (b'{"submodels": [{"modelType": "Submodel", "id": "urn:x", "n": 1e400}]}', "1e400"),
    ],
)
def test_a_broken_file_is_refused_with_what_is_wrong(
    database_url: str, tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "broken.json"
    path.write_bytes(content)
    result = titan_load(database_url, path, cwd=tmp_path)
    assert result.returncode == 1, result.stdout
    assert f"{path}: refused" in result.stderr and message in result.stderr
    assert "Traceback" not in result.stderr


def test_version_is_printed() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "titan_core", "--version"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0
    assert result.stdout.startswith("titan-aas ")

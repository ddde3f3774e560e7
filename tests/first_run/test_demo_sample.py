"""The demo twin shipped in the core package: valid under the strict check, one shell referencing its
submodels, attributed; `load_demo_into_unused_database` fills only a database never used."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from tests.support.app import AppClientFactory
from titan_core.demo import DEMO_ENVIRONMENT, load_demo_into_unused_database
from titan_core.model.identifiers import encode_identifier
from titan_core.model.verify import parse_and_verify
from titan_core.settings import Settings
from titan_core.store.database import Database
from titan_core.store.tables import identifiables

SAMPLE_DIR = DEMO_ENVIRONMENT.parent
NAMEPLATE_ID = "https://example.com/titan-demo/sm/nameplate"


def _sample() -> dict[str, Any]:
    return dict(json.loads(DEMO_ENVIRONMENT.read_text(encoding="utf-8")))


def test_the_demo_sample_passes_the_strict_meta_model_check() -> None:
    verified = parse_and_verify("environment", _sample(), lenient=False)  # raises on any violation

    assert verified.violations == []


def test_the_demo_shell_references_each_submodel_and_every_id_is_distinct() -> None:
    sample = _sample()
    (shell,) = sample["assetAdministrationShells"]
    submodel_ids = [submodel["id"] for submodel in sample["submodels"]]
    referenced = [reference["keys"][0]["value"] for reference in shell["submodels"]]
    every_id = [item["id"] for section in sample.values() for item in section]

    assert referenced == submodel_ids and len(submodel_ids) == 4
    assert len(every_id) == len(set(every_id))
    assert all(submodel["kind"] == "Instance" for submodel in sample["submodels"])
    assert not any(
        identifier.startswith("https://admin-shell.io/idta/SubmodelTemplate") for identifier in submodel_ids
    )


def test_the_demo_sample_has_no_empty_strings_or_lists() -> None:
    def empties(node: Any, path: str) -> list[str]:
        if node in ("", []):
            return [path]
        if isinstance(node, dict):
            return [found for key, value in node.items() for found in empties(value, f"{path}.{key}")]
        if isinstance(node, list):
            return [found for index, value in enumerate(node) for found in empties(value, f"{path}[{index}]")]
        return []

    assert empties(_sample(), "$") == []


def test_the_notice_attributes_every_source_and_says_what_changed() -> None:
    notice = (SAMPLE_DIR / "NOTICE.md").read_text(encoding="utf-8")

    assert "CC BY 4.0" in notice and "Industrial Digital Twin Association" in notice
    for source in ("02006-3-0", "02003", "02002-1-0", "02023"):
        assert source in notice
    assert "What was changed" in notice
    assert "Attribution 4.0 International" in (SAMPLE_DIR / "LICENSE.txt").read_text(encoding="utf-8")


async def test_the_demo_fills_an_empty_database_and_leaves_a_used_one_alone(
    settings: Settings, make_app_client: AppClientFactory
) -> None:
    database = Database(settings.database_url)
    try:
        await database.migrate()
        first = await load_demo_into_unused_database(database)
        client = await make_app_client()
        url = f"/submodels/{encode_identifier(NAMEPLATE_ID)}/submodel-elements/SerialNumber"
        changed = await client.patch(f"{url}/$value", json="0815")
        assert changed.status == 204, await changed.text()

        second = await load_demo_into_unused_database(database)
    finally:
        await database.close()

    assert first.startswith("--demo: loaded the demo twin") and "146" in first
    assert second.startswith("--demo: the database already holds 146 ") and "kept as it is" in second
    assert (await (await client.get(url)).json())["value"] == "0815"


async def test_a_database_whose_twins_were_all_deleted_is_not_refilled(
    settings: Settings, make_app_client: AppClientFactory
) -> None:
    database = Database(settings.database_url)
    try:
        await database.migrate()
        await load_demo_into_unused_database(database)
        client = await make_app_client()
        for section, route in (("assetAdministrationShells", "shells"), ("submodels", "submodels"),
                               ("conceptDescriptions", "concept-descriptions")):  # fmt: skip
            for item in _sample()[section]:
                deleted = await client.delete(f"/{route}/{encode_identifier(item['id'])}")
                assert deleted.status == 204, await deleted.text()

        again = await load_demo_into_unused_database(database)
        async with database.read() as connection:
            left = (
                await connection.execute(sa.select(sa.func.count()).select_from(identifiables))
            ).scalar_one()
    finally:
        await database.close()

    assert "everything was deleted" in again and "kept as it is" in again
    assert left == 0


def test_the_sample_files_are_package_data() -> None:
    pyproject = (Path(__file__).resolve().parents[2] / "pyproject.toml").read_text(encoding="utf-8")

    for pattern in ('"sample/*.json"', '"sample/*.md"', '"sample/*.txt"'):
        assert pattern in pyproject

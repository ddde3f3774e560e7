"""The aas-core testgen corpus through `POST /submodels`: every valid submodel accepted, every invalid one refused.

One app per backend walks all files; accepted submodels are deleted again, because ids repeat
across files. A refusal must leave the repository empty.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.support.app import AppClient
from tests.support.data import TESTGEN_DIR, data_files

from .helpers import get_json, submodel_url

CORPUS = TESTGEN_DIR
EXPECTED = data_files(CORPUS / "Expected", recursive=True, at_least=250)
INVALID = data_files(CORPUS / "Unexpected" / "Invalid", recursive=True, at_least=200)
UNSERIALIZABLE = data_files(CORPUS / "Unexpected" / "Unserializable", recursive=True, at_least=50)


def _submodel_of(path: Path) -> Any:
    environment = json.loads(path.read_text(encoding="utf-8"))
    submodels = environment["submodels"]
    assert len(submodels) == 1, path
    return submodels[0]


def test_the_corpus_is_there() -> None:
    assert len(EXPECTED) >= 250 and len(INVALID) >= 200 and len(UNSERIALIZABLE) >= 50


async def test_every_expected_submodel_is_accepted_unchanged(app_client: AppClient) -> None:
    failures: list[str] = []
    for path in EXPECTED:
        document = _submodel_of(path)
        response = await app_client.post("/submodels", json=document)
        if response.status != 201:
            failures.append(f"{path.relative_to(CORPUS)}: {response.status} {(await response.text())[:300]}")
            continue
        if await response.json() != document:
            failures.append(f"{path.relative_to(CORPUS)}: stored JSON differs from the input")
        deleted = await app_client.delete(submodel_url(document["id"]))
        assert deleted.status == 204, await deleted.text()
    assert not failures, f"{len(failures)} of {len(EXPECTED)} refused:\n" + "\n".join(failures[:20])


async def _assert_all_refused(client: AppClient, paths: list[Path]) -> None:
    failures: list[str] = []
    for path in paths:
        response = await client.post("/submodels", json=_submodel_of(path))
        body = await response.json()
        name = str(path.relative_to(CORPUS))
        if response.status != 400:
            failures.append(f"{name}: {response.status} {json.dumps(body)[:300]}")
        elif list(body) != ["messages"] or not body["messages"] or not body["messages"][0]["text"]:
            failures.append(f"{name}: not an IDTA error body: {body}")
        elif (await get_json(client, "/submodels?limit=1"))["result"]:
            failures.append(f"{name}: refused, but something was stored")
    assert not failures, f"{len(failures)} of {len(paths)} not refused properly:\n" + "\n".join(failures[:20])


async def test_every_invalid_submodel_is_refused_and_changes_nothing(app_client: AppClient) -> None:
    await _assert_all_refused(app_client, INVALID)


async def test_every_unserializable_submodel_is_refused_and_changes_nothing(app_client: AppClient) -> None:
    await _assert_all_refused(app_client, UNSERIALIZABLE)

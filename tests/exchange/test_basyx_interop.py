"""Third-party interop: basyx-python-sdk (2.0.1, meta-model V3.0, namespace aas/3/0) reads what
Titan exports, and Titan reads what it writes, model-equal, files included."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from aas_core3 import jsonization
from basyx.aas import model as basyx_model
from basyx.aas.adapter import aasx as basyx_aasx
from basyx.aas.adapter import json as basyx_json

from titan_core.auth import ANONYMOUS
from titan_core.exchange.aasx import read_aasx
from titan_core.exchange.export import ExportPlan, write_aasx_export
from titan_core.exchange.files import take_package_files
from titan_core.store.records import Attachment
from titan_core.store.repository import Repository

SHELL_ID = "urn:test:shell:1"
SM_ID = "urn:test:sm:1"
CD_ID = "urn:test:cd:temperature"
ENVIRONMENT: dict[str, Any] = {
    "assetAdministrationShells": [
        {
            "modelType": "AssetAdministrationShell",
            "id": SHELL_ID,
            "idShort": "Pump",
            "assetInformation": {"assetKind": "Instance", "globalAssetId": "urn:test:asset:1"},
            "submodels": [{"type": "ModelReference", "keys": [{"type": "Submodel", "value": SM_ID}]}],
        }
    ],
    "submodels": [
        {
            "modelType": "Submodel",
            "id": SM_ID,
            "idShort": "Documentation",
            "submodelElements": [
                {
                    "modelType": "Property",
                    "idShort": "Temperature",
                    "valueType": "xs:double",
                    "value": "21.5",
                    "semanticId": {
                        "type": "ModelReference",
                        "keys": [{"type": "ConceptDescription", "value": CD_ID}],
                    },
                },
                {
                    "modelType": "File",
                    "idShort": "Manual",
                    "contentType": "application/pdf",
                    "value": "manual.pdf",
                },
            ],
        }
    ],
    "conceptDescriptions": [{"modelType": "ConceptDescription", "id": CD_ID, "idShort": "Temperature"}],
}
MANUAL = Attachment("application/pdf", "manual.pdf", b"%PDF-1.7 manual")


def model(environment: Any) -> Any:
    """aas-core's normal form, without a submodel `kind` of Instance: that is the default, which BaSyx
    writes explicitly in XML and leaves out in JSON, so only its absence compares equal."""
    normal = jsonization.to_jsonable(jsonization.environment_from_jsonable(environment))
    for submodel in normal.get("submodels", []):
        if submodel.get("kind") == "Instance":
            del submodel["kind"]
    return normal


def basyx_environment(store: basyx_model.DictObjectStore) -> Any:
    """What basyx read, as Part 2 JSON written by basyx itself."""
    return json.loads(basyx_json.object_store_to_json(store))


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_basyx_reads_the_package_titan_exports(repository: Repository) -> None:
    await repository.import_environment(
        json.loads(json.dumps(ENVIRONMENT)),
        files=[("submodel", SM_ID, "Manual", MANUAL)],
        origin="load",
        principal=ANONYMOUS,
    )
    package = io.BytesIO()
    await write_aasx_export(
        package, repository, ExportPlan([SHELL_ID], [SM_ID], [CD_ID]), principal=ANONYMOUS
    )
    package.seek(0)

    store: basyx_model.DictObjectStore = basyx_model.DictObjectStore()
    files = basyx_aasx.DictSupplementaryFileContainer()
    with basyx_aasx.AASXReader(package) as reader:
        reader.read_into(store, files)

    expected = json.loads(json.dumps(ENVIRONMENT))
    expected["submodels"][0]["submodelElements"][1]["value"] = "/aasx/files/manual.pdf"
    assert model(basyx_environment(store)) == model(expected)
    content = io.BytesIO()
    files.write_file("/aasx/files/manual.pdf", content)
    assert content.getvalue() == MANUAL.data


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_titan_loads_a_package_basyx_wrote(repository: Repository) -> None:
    store = basyx_json.read_aas_json_file(io.StringIO(json.dumps(ENVIRONMENT)))
    files = basyx_aasx.DictSupplementaryFileContainer()
    part_name = files.add_file("/aasx/files/manual.pdf", io.BytesIO(MANUAL.data), MANUAL.content_type)
    manual = store.get_identifiable(SM_ID).get_referable("Manual")  # type: ignore[attr-defined]
    manual.value = part_name
    package = io.BytesIO()
    with basyx_aasx.AASXWriter(package) as writer:
        writer.write_aas(SHELL_ID, store, files)
    package.seek(0)

    content = read_aasx(package, "basyx.aasx")
    imported = take_package_files(content)
    assert [(f.kind, f.identifier, f.path, f.attachment) for f in imported] == [
        ("submodel", SM_ID, "Manual", MANUAL)
    ]
    # Back in Titan the File value is the file name again, as an upload through the API sets it.
    assert model(content.environment) == model(ENVIRONMENT)
    counts = await repository.import_environment(
        content.environment,
        files=[(f.kind, f.identifier, f.path, f.attachment) for f in imported],
        origin="load",
        principal=ANONYMOUS,
    )
    assert counts.created == 3
    assert await repository.get_attachment("submodel", SM_ID, "Manual", principal=ANONYMOUS) == MANUAL

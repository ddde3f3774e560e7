"""`GET /serialization` answers JSON, XML or AASX by `Accept`, 406 with the IDTA error body otherwise."""

from __future__ import annotations

import io
import json

import pytest
from aas_core3 import jsonization

from tests.api.helpers import assert_idta_error, b64, shell, submodel, upload
from tests.support.app import AppClient
from titan_core.api.serialization import negotiate
from titan_core.errors import NotAcceptable
from titan_core.exchange.aasx import AASX_MEDIA_TYPE, read_aasx
from titan_core.exchange.files import take_package_files
from titan_core.exchange.xml import read_xml_environment

SHELL_ID = "urn:test:shell:1"
SM_ID = "urn:test:sm:1"
FILE_SUBMODEL = {
    **submodel(SM_ID),
    "submodelElements": [{"modelType": "File", "idShort": "Manual", "contentType": "application/pdf"}],
}


def model(environment: dict[str, object]) -> object:
    return jsonization.to_jsonable(jsonization.environment_from_jsonable(environment))


async def _loaded(client: AppClient) -> None:
    assert (await client.post("/submodels", json=FILE_SUBMODEL)).status == 201
    assert (await client.post("/shells", json=shell(SHELL_ID, SM_ID))).status == 201
    response = await client.put(
        f"/submodels/{b64(SM_ID)}/submodel-elements/Manual/attachment",
        data=upload(b"%PDF-1", "manual.pdf", "application/pdf"),
    )
    assert response.status == 204, await response.text()


@pytest.mark.parametrize(
    ("accept", "fmt"),
    [
        ("", "json"),
        ("*/*", "json"),
        ("application/json", "json"),
        ("application/xml", "xml"),
        ("text/xml", "xml"),
        (AASX_MEDIA_TYPE, "aasx"),
        (f"application/json;q=0.5, {AASX_MEDIA_TYPE}", "aasx"),
        ("text/html, application/xml;q=0.9", "xml"),
    ],
)
def test_accept_picks_the_format(accept: str, fmt: str) -> None:
    assert negotiate(accept) == fmt


@pytest.mark.parametrize("accept", ["text/html", "application/pdf", "application/json;q=0"])
def test_any_other_accept_is_not_acceptable(accept: str) -> None:
    with pytest.raises(NotAcceptable):
        negotiate(accept)


async def test_the_three_formats_carry_the_same_environment(app_client: AppClient) -> None:
    await _loaded(app_client)
    as_json = await app_client.get("/serialization", headers={"Accept": "application/json"})
    assert as_json.status == 200 and as_json.content_type == "application/json"
    assert "X-Titan-Seq" in as_json.headers
    environment = await as_json.json()

    as_xml = await app_client.get("/serialization", headers={"Accept": "application/xml"})
    assert as_xml.status == 200 and as_xml.content_type == "application/xml"
    assert model(read_xml_environment(io.BytesIO(await as_xml.read()), "response")) == model(environment)

    as_aasx = await app_client.get("/serialization", headers={"Accept": AASX_MEDIA_TYPE})
    assert as_aasx.status == 200 and as_aasx.content_type == AASX_MEDIA_TYPE
    package = read_aasx(io.BytesIO(await as_aasx.read()), "response.aasx")
    # The File value names the part holding the attachment; reading it back restores both.
    files = take_package_files(package)
    assert [(f.path, f.attachment.data, f.attachment.file_name) for f in files] == [
        ("Manual", b"%PDF-1", "manual.pdf")
    ]
    assert model(package.environment) == model(environment)


async def test_an_unsupported_accept_is_406_with_the_idta_error_body(app_client: AppClient) -> None:
    response = await app_client.get("/serialization", headers={"Accept": "text/html"})
    await assert_idta_error(response, 406, "application/xml")


async def test_a_missing_named_shell_is_still_a_clean_404_in_every_format(app_client: AppClient) -> None:
    for accept in ("application/json", "application/xml", AASX_MEDIA_TYPE):
        response = await app_client.get(
            f"/serialization?aasIds={b64('urn:none')}", headers={"Accept": accept}
        )
        await assert_idta_error(response, 404, "urn:none")


async def test_selected_ids_limit_every_format(app_client: AppClient) -> None:
    await _loaded(app_client)
    query = f"/serialization?aasIds={b64(SHELL_ID)}&submodelIds={b64(SM_ID)}&includeConceptDescriptions=false"
    environment = json.loads(await (await app_client.get(query)).text())
    assert [item["id"] for item in environment["submodels"]] == [SM_ID]
    xml = await (await app_client.get(query, headers={"Accept": "application/xml"})).read()
    assert model(read_xml_environment(io.BytesIO(xml), "response")) == model(environment)

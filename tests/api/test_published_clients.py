"""Published AAS clients from PyPI, used against a live `titan serve` as their users would: they read
element `$value` as the element's value, write it back, and see a deleted attachment as deleted."""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

import pytest
import requests
from basyx_client import AASClient

from .helpers import SM_ID, b64, element_url, every_element_submodel

# each test starts `titan serve` as a process for the published clients: not in `make test-fast`.
pytestmark = pytest.mark.slow

HTTP_TIMEOUT = 30.0


@pytest.fixture
def aas_http_client(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """The `aas_http_client` package, imported without the PyPI version check it runs on import."""

    def no_network(*args: Any, **kwargs: Any) -> Any:
        raise requests.ConnectionError("tests make no calls to PyPI")

    with monkeypatch.context() as patch:
        patch.setattr(requests, "get", no_network)
        return importlib.import_module("aas_http_client")


def load_every_element_submodel(base_url: str) -> None:
    response = requests.post(f"{base_url}/submodels", json=every_element_submodel(), timeout=HTTP_TIMEOUT)
    assert response.status_code == 201, response.text


def test_basyx_client_reads_and_writes_element_values(live_server: str) -> None:
    load_every_element_submodel(live_server)
    with AASClient(live_server, timeout=HTTP_TIMEOUT) as client:
        elements = client.submodels.elements
        assert elements.get_value(SM_ID, "Speed") == 1500
        assert elements.get_value(SM_ID, "Designation") == [{"en": "Pump"}, {"de": "Pumpe"}]
        assert elements.get_value(SM_ID, "Operating") == {"min": -20, "max": 80}
        assert elements.get_value(SM_ID, "Maintenance.Records[2].Hours") == 12
        # basyx-client sends numbers as strings ("1750"); a valid lexical value is taken.
        elements.set_value(SM_ID, "Speed", 1750)
        assert elements.get_value(SM_ID, "Speed") == 1750
        elements.set_value(SM_ID, "Operating", {"min": 0, "max": 90})
        assert elements.get_value(SM_ID, "Operating") == {"min": 0, "max": 90}


def test_aas_http_client_reads_values_and_deletes_an_attachment(
    live_server: str, aas_http_client: ModuleType
) -> None:
    load_every_element_submodel(live_server)
    client = aas_http_client.aas_client.create_by_url(live_server, time_out=30, connection_time_out=30)
    assert client is not None, f"aas-http-client could not connect to {live_server}"
    submodels = client.submodels
    read = submodels.get_submodel_element_by_path_value_only_submodel_repo
    assert read(b64(SM_ID), "Temperature") == 23.5
    assert read(b64(SM_ID), "Maintenance")["IntervalDays"] == 180
    assert submodels.patch_submodel_element_by_path_value_only_submodel_repo(b64(SM_ID), "Speed", 1600)
    assert read(b64(SM_ID), "Speed") == 1600

    attachment = f"{live_server}{element_url(SM_ID, 'Manual')}/attachment"
    upload = requests.put(
        attachment,
        files={"file": ("manual.pdf", b"%PDF-1.4", "application/pdf")},
        data={"fileName": "manual.pdf"},
        timeout=HTTP_TIMEOUT,
    )
    assert upload.status_code == 204, upload.text
    assert client.experimental.delete_file_by_path_submodel_repo(b64(SM_ID), "Manual") is True
    assert requests.get(attachment, timeout=HTTP_TIMEOUT).status_code == 404

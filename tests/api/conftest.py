"""Fixtures of the REST API tests: an app with a shell, its submodel of every element type and a CD."""

from __future__ import annotations

import pytest

from tests.support.app import AppClient

from .helpers import (
    CD_ID,
    SHELL_ID,
    SM_ID,
    concept_description,
    created,
    every_element_submodel,
    shell,
)


@pytest.fixture
async def loaded_client(app_client: AppClient) -> AppClient:
    """`app_client` holding the every-element submodel, a shell referencing it and one CD."""
    await created(app_client, "/submodels", every_element_submodel())
    await created(app_client, "/shells", shell(SHELL_ID, SM_ID, id_short="Pump"))
    await created(app_client, "/concept-descriptions", concept_description(CD_ID, id_short="Temperature"))
    return app_client

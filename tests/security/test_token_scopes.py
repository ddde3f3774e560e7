"""Scopes fail closed (issue 13, M3): a JWT whose scopes claim is present but holds no pattern (`[]`,
`""`, `"   "`) grants no twin; only an absent claim means "unrestricted", and `jwt_scopes_required`
refuses even that. A wildcard scope never covers a dot segment (`line1/../line2`)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.app import AppClient, AppClientFactory
from titan_core.auth import ROLE_READER, Principal
from titan_core.plugins import TitanPluginManager
from titan_core.settings import Settings

from .stored import load_twins
from .twins import OTHER_SM_ID, SM_ID, api_key, b64, bearer, shell, token

SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def with_scopes_claim(value: Any) -> dict[str, str]:
    return bearer(token("alice", ["writer"], extra={"titan_scopes": value}))


@SQLITE_ONLY
@pytest.mark.parametrize("claim", [[], "", "   ", ["", "  "]])
async def test_an_empty_scopes_claim_grants_no_twin(secure_client: AppClient, claim: Any) -> None:
    for identifier in (SM_ID, OTHER_SM_ID):
        response = await secure_client.get(f"/submodels/{b64(identifier)}", headers=with_scopes_claim(claim))
        body = await response.json()
        assert response.status == 403, body
        assert "titan_scopes" in body["messages"][0]["text"]
    listed = await secure_client.get("/submodels", headers=with_scopes_claim(claim))
    assert listed.status == 403


@SQLITE_ONLY
async def test_an_absent_scopes_claim_is_unrestricted(secure_client: AppClient) -> None:
    headers = bearer(token("alice", ["reader"]))
    for identifier in (SM_ID, OTHER_SM_ID):
        response = await secure_client.get(f"/submodels/{b64(identifier)}", headers=headers)
        assert response.status == 200, await response.text()
        assert (await response.json())["id"] == identifier


@SQLITE_ONLY
async def test_jwt_scopes_required_refuses_a_token_without_the_claim(
    make_app_client: AppClientFactory, secure_settings: Settings, core_plugins: TitanPluginManager
) -> None:
    client = await make_app_client(
        secure_settings.replace(jwt_scopes_required=True), plugin_manager=core_plugins
    )
    await load_twins(client.server.app)

    without = await client.get(f"/submodels/{b64(SM_ID)}", headers=bearer(token("alice", ["reader"])))
    scoped = await client.get(
        f"/submodels/{b64(SM_ID)}",
        headers=bearer(token("alice", ["reader"], scopes=["https://example.com/*"])),
    )

    assert without.status == 403
    assert "jwt_scopes_required" in (await without.json())["messages"][0]["text"]
    assert scoped.status == 200


@SQLITE_ONLY
async def test_a_wildcard_scope_does_not_cover_a_dot_segment(secure_client: AppClient) -> None:
    escaping = "https://other.example/line1/../ids/aas/press"
    created = await secure_client.post("/shells", json=shell(escaping, OTHER_SM_ID), headers=api_key("admin"))
    assert created.status == 201, await created.text()
    line1 = bearer(token("line1", ["writer"], scopes=["https://other.example/line1/*"]))

    read = await secure_client.get(f"/shells/{b64(escaping)}", headers=line1)
    listed = await secure_client.get("/shells", headers=line1)

    assert read.status == 403
    assert escaping not in [item["id"] for item in (await listed.json())["result"]]


@pytest.mark.parametrize(
    "identifier",
    [
        "https://p.example/line1/../line2",
        "https://p.example/line1/%2e%2E/line2",
        "https://p.example/line1/./x",
        "https://p.example/line1/..",
    ],
)
def test_dot_segments_are_outside_a_wildcard_scope(identifier: str) -> None:
    principal = Principal("line1", frozenset({ROLE_READER}), scopes=("https://p.example/line1/*",))
    assert not principal.may_access(identifier)
    assert principal.may_access("https://p.example/line1/a..b")

"""A remote registry behind a gate that wants a credential (API key, bearer token, or a token of
an OAuth2 client credentials endpoint), and that goes away for a while: nothing is missed."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest
from autoregister_testing import RegistryGate, descriptor_path, eventually, every_id, read, shell
from conftest import url_of
from pytest_asyncio import fixture as async_fixture

from titan_core.plugin_api import encode_identifier
from titan_core.testing import AppClient, TitanClients, wait_for_delivery


@async_fixture(params=["api_key", "bearer_token", "oauth2"])
async def gate(request: pytest.FixtureRequest, remote: AppClient) -> AsyncIterator[RegistryGate]:
    proxy = RegistryGate(url_of(remote), request.param)
    await proxy.start()
    yield proxy
    await proxy.stop()


async def health(instance: AppClient) -> dict[str, object]:
    checks = (await read(instance, "/ready"))["checks"]
    found: dict[str, object] = next(check for check in checks if check["name"] == "autoregister")
    return found


async def test_a_remote_registry_behind_credentials_follows_and_catches_up_after_being_away(
    make_titan_client: TitanClients, remote: AppClient, gate: RegistryGate, register_into: Callable[..., None]
) -> None:
    register_into(gate.url, discovery_url=gate.url, **gate.settings())
    instance = await make_titan_client(plugins=["autoregister"])
    first = "https://plant.example/aas/first"
    assert (await instance.post("/shells", json=shell(first, asset="urn:asset:first"))).status == 201
    await eventually(remote, descriptor_path(first), lambda found: found is not None, "not registered")

    # Away: every change waits, and the sink says it is failing.
    gate.away = True
    burst = [f"https://plant.example/aas/burst-{number}" for number in range(6)]
    for identifier in burst:
        assert (
            await instance.post("/shells", json=shell(identifier, asset=f"urn:asset:{identifier}"))
        ).status == 201
    changed = shell(burst[0], asset="urn:asset:changed", id_short="Changed")
    assert (await instance.put(f"/shells/{encode_identifier(burst[0])}", json=changed)).status == 204
    assert (await instance.delete(f"/shells/{encode_identifier(first)}")).status == 204

    async def noticed() -> bool:
        return gate.turned_away >= 2 and not (await health(instance))["ok"]

    await wait_for_delivery(noticed, timeout=15, message=lambda: f"{gate.turned_away} requests turned away")

    # Back: the registry ends up with exactly this instance's shells, as they are now.
    gate.away = False
    expected = await every_id(instance, "/shells")

    async def caught_up() -> bool:
        return await every_id(remote, "/shell-descriptors") == expected

    await wait_for_delivery(caught_up, timeout=30, message=lambda: f"{expected} not registered")
    assert (await read(remote, descriptor_path(burst[0])))["idShort"] == "Changed"
    await wait_for_delivery(
        lambda: _healthy(instance),
        timeout=15,
        message="the sink still reports failing after the registry returned",
    )
    assert gate.refused == 0  # every request carried the right credential


async def _healthy(instance: AppClient) -> bool:
    return bool((await health(instance))["ok"])


async def test_oauth2_tokens_are_cached_and_fetched_anew_when_refused(
    make_titan_client: TitanClients, remote: AppClient, register_into: Callable[..., None]
) -> None:
    gate = RegistryGate(url_of(remote), "oauth2")
    await gate.start()
    try:
        register_into(gate.url, **gate.settings())
        instance = await make_titan_client(plugins=["autoregister"])
        for number in range(3):
            identifier = f"https://plant.example/aas/cached-{number}"
            assert (
                await instance.post("/shells", json=shell(identifier, asset=f"urn:a:{number}"))
            ).status == 201
            await eventually(
                remote, descriptor_path(identifier), lambda found: found is not None, "not registered"
            )
        assert gate.tokens == ["token-1"]  # one token for the full sync and three changes

        gate.revoke_tokens()  # the authorization server forgot it: the registry answers 401
        late = "https://plant.example/aas/after-revocation"
        assert (await instance.post("/shells", json=shell(late, asset="urn:a:late"))).status == 201
        await eventually(remote, descriptor_path(late), lambda found: found is not None, "not registered")
        assert gate.tokens == ["token-1", "token-2"] and gate.refused == 1
    finally:
        await gate.stop()


async def test_a_wrong_credential_is_reported_not_retried_forever(
    make_titan_client: TitanClients, remote: AppClient, register_into: Callable[..., None]
) -> None:
    gate = RegistryGate(url_of(remote), "api_key")
    await gate.start()
    try:
        register_into(gate.url, api_key="k-wrong")
        instance = await make_titan_client(plugins=["autoregister"])
        assert (await instance.post("/shells", json=shell("urn:aas:x", asset="urn:a:x"))).status == 201

        async def reported() -> bool:
            report = await health(instance)
            return not report["ok"] and "HTTP 401" in str(report["detail"])

        await wait_for_delivery(reported, timeout=15, message="the refusal is not in /ready")
        assert "k-wrong" not in str(await health(instance))
    finally:
        await gate.stop()

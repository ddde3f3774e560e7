"""A remote registry behind a gate that wants a credential (API key, bearer token, or a token of
an OAuth2 client credentials endpoint), and that goes away for a while: nothing is missed."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from autoregister_testing import RegistryGate, descriptor_path, eventually, every_id, read, shell
from conftest import url_of
from pytest_asyncio import fixture as async_fixture

from titan_core.plugin_api import encode_identifier
from titan_core.testing import AppClient, TitanClients, wait_for_delivery

Behind = Callable[..., Awaitable[tuple[RegistryGate, AppClient]]]


@async_fixture
async def behind_gate(
    make_titan_client: TitanClients, remote: AppClient, register_into: Callable[..., None]
) -> AsyncIterator[Behind]:
    """`await behind_gate(credential, **settings)`: a gate in front of `remote` wanting `credential`,
    and this instance registering through it (with the gate's credential, or `settings`)."""
    started: list[RegistryGate] = []

    async def start(credential: str, **settings: str) -> tuple[RegistryGate, AppClient]:
        started.append(RegistryGate(url_of(remote), credential))
        await started[-1].start()
        register_into(started[-1].url, discovery_url=started[-1].url, **(settings or started[-1].settings()))
        return started[-1], await make_titan_client(plugins=["autoregister"])

    yield start
    for gate in started:
        await gate.stop()


async def health(instance: AppClient) -> dict[str, object]:
    checks = (await read(instance, "/ready"))["checks"]
    found: dict[str, object] = next(check for check in checks if check["name"] == "autoregister")
    return found


@pytest.mark.parametrize("credential", ["api_key", "bearer_token", "oauth2"])
async def test_a_remote_registry_behind_credentials_follows_and_catches_up_after_being_away(
    remote: AppClient, behind_gate: Behind, credential: str
) -> None:
    gate, instance = await behind_gate(credential)
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
    remote: AppClient, behind_gate: Behind
) -> None:
    gate, instance = await behind_gate("oauth2")
    for number in range(3):
        identifier = f"https://plant.example/aas/cached-{number}"
        assert (await instance.post("/shells", json=shell(identifier, asset=f"urn:a:{number}"))).status == 201
        await eventually(
            remote, descriptor_path(identifier), lambda found: found is not None, "not registered"
        )
    assert gate.tokens == ["token-1"]  # one token for the full sync and three changes

    gate.revoke_tokens()  # the authorization server forgot it: the registry answers 401
    late = "https://plant.example/aas/after-revocation"
    assert (await instance.post("/shells", json=shell(late, asset="urn:a:late"))).status == 201
    await eventually(remote, descriptor_path(late), lambda found: found is not None, "not registered")
    assert gate.tokens == ["token-1", "token-2"] and gate.refused == 1


async def test_a_wrong_credential_is_reported_not_retried_forever(behind_gate: Behind) -> None:
    _, instance = await behind_gate("api_key", api_key="k-wrong")
    assert (await instance.post("/shells", json=shell("urn:aas:x", asset="urn:a:x"))).status == 201

    async def reported() -> bool:
        report = await health(instance)
        return not report["ok"] and "HTTP 401" in str(report["detail"])

    await wait_for_delivery(reported, timeout=15, message="the refusal is not in /ready")
    assert "k-wrong" not in str(await health(instance))

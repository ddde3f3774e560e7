"""Bad credentials cost one log line and a clear 401, never a traceback, a forged log line or a wait
(issue 13, L2-L4): a path with `%0A` reaches the log escaped, a token whose `alg` does not fit the
key is refused quietly, and a token naming an unknown key never holds up tokens whose key is known,
however slow the identity provider's JWKS answers. 401 messages do not name the JWKS URL."""

from __future__ import annotations

import asyncio
import json
import logging
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from tests.support.app import AppClientFactory
from tests.support.live_server import start_live_server
from titan_core import hookimpl
from titan_core.auth import Principal
from titan_core.credentials import jwks as jwks_module
from titan_core.credentials.jwt_bearer import JwtVerifier
from titan_core.errors import Unauthorized
from titan_core.plugins import TitanPluginManager
from titan_core.settings import Settings

from .jwks_server import serve_jwks
from .live import unhandled_errors
from .twins import JWT_AUDIENCE, JWT_ISSUER

SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def claims(subject: str = "alice") -> dict[str, Any]:
    return {"sub": subject, "iss": JWT_ISSUER, "aud": JWT_AUDIENCE, "exp": int(time.time()) + 300,
            "roles": ["reader"]}  # fmt: skip


# --- L2: log forging through the path -------------------------------------------------------------


@SQLITE_ONLY
async def test_a_newline_in_the_path_reaches_the_log_escaped(
    make_app_client: AppClientFactory, settings: Settings, core_plugins: TitanPluginManager,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    class Broken:
        @hookimpl
        def titan_authenticate(self, request: web.Request, token: str | None) -> Principal | None:
            raise RuntimeError("the scheme broke\nINFO titan: forged by the token")

    core_plugins.add_plugin(Broken(), "broken")
    client = await make_app_client(settings.replace(auth_enabled=True), plugin_manager=core_plugins)

    with caplog.at_level(logging.INFO):
        response = await client.get(
            "/shells/eA%0AINFO%20titan:%20admin%20logged%20in", headers={"X-API-Key": "x"}
        )

    assert response.status == 401
    logged = [record for record in caplog.records if "titan_authenticate raised" in record.getMessage()]
    assert logged, "the failing scheme was not logged at all"
    for record in logged:
        assert "\n" not in record.getMessage(), record.getMessage()
        assert "\\nINFO titan: admin logged in" in record.getMessage()
        if record.levelno >= logging.INFO:
            assert record.exc_info is None, "a traceback per refused request floods the log"


# --- L3: an algorithm that does not fit the key ---------------------------------------------------


@pytest.mark.slow  # starts `titan` as a process: not in `make test-fast`
def test_a_forged_es256_token_against_an_rsa_key_is_refused_401_in_one_line(tmp_path: Path) -> None:
    rsa_key = rsa.generate_private_key(65537, 2048)
    key_file = tmp_path / "public.pem"
    key_file.write_bytes(rsa_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ))  # fmt: skip
    server = start_live_server(f"sqlite+aiosqlite:///{tmp_path}/titan.sqlite3", log_dir=tmp_path, env={
        "TITAN_AUTH_ENABLED": "true", "TITAN_JWT_PUBLIC_KEY_FILE": str(key_file),
        "TITAN_JWT_ISSUER": JWT_ISSUER, "TITAN_JWT_AUDIENCE": JWT_AUDIENCE,
    })  # fmt: skip
    try:
        forged = jwt.encode(claims(), ec.generate_private_key(ec.SECP256R1()), algorithm="ES256")
        genuine = jwt.encode(claims(), rsa_key, algorithm="RS256")
        statuses = [status_of(server.base_url + "/shells", {"Authorization": f"Bearer {credential}"})
                    for credential in (forged, forged, genuine)]  # fmt: skip
        log = server.log()
    finally:
        server.stop()

    assert statuses == [401, 401, 200]
    assert unhandled_errors(server) == [], log
    assert "Traceback" not in log, log


def status_of(url: str, headers: dict[str, str]) -> int:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


# --- L4: a slow JWKS and unknown kids -------------------------------------------------------------


class SlowJwks:
    """A JWKS endpoint that, once `hold` is set, keeps every fetch waiting until `release` is set."""

    def __init__(self) -> None:
        self.private = rsa.generate_private_key(65537, 2048)
        self.hold = False
        self.holding = asyncio.Event()
        self.release = asyncio.Event()

    async def handle(self, request: web.Request) -> web.Response:
        if self.hold:
            self.holding.set()
            await self.release.wait()
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.private.public_key()))
        return web.json_response({"keys": [{**jwk, "kid": "known", "use": "sig", "alg": "RS256"}]})

    def token(self, kid: str, subject: str) -> str:
        return jwt.encode(claims(subject), self.private, algorithm="RS256", headers={"kid": kid})


@pytest.fixture
async def slow_jwks() -> AsyncIterator[tuple[SlowJwks, str]]:
    endpoint = SlowJwks()
    async with serve_jwks(endpoint.handle) as url:
        yield endpoint, url
        endpoint.release.set()


async def test_an_unknown_kid_never_holds_up_a_token_whose_key_is_known(
    slow_jwks: tuple[SlowJwks, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    endpoint, url = slow_jwks
    found = JwtVerifier.from_settings(
        Settings(jwt_jwks_url=url, jwt_issuer=JWT_ISSUER, jwt_audience=JWT_AUDIENCE)
    )
    assert found is not None and found.jwks is not None
    verifier, keys = found, found.jwks
    try:
        assert getattr(await verifier.principal(endpoint.token("known", "first")), "subject", None) == "first"
        monkeypatch.setattr(jwks_module, "JWKS_MIN_REFRESH_SECONDS", 0.0)
        endpoint.hold = True

        # A token naming a kid nobody published makes Titan fetch the JWKS, which now hangs...
        unknown = asyncio.create_task(verifier.principal(endpoint.token("rotated-away", "mallory")))
        await asyncio.wait_for(endpoint.holding.wait(), timeout=10)
        # ...and more such tokens share that one fetch instead of starting their own.
        more_unknown = [
            asyncio.create_task(verifier.principal(endpoint.token(f"u{n}", "m"))) for n in range(5)
        ]
        # A token not yet verified whose key is known is answered meanwhile.
        principal = await asyncio.wait_for(verifier.principal(endpoint.token("known", "second")), timeout=10)

        assert principal is not None and principal.subject == "second"
        assert not unknown.done(), "the unknown kid's fetch ended before the known token was answered"
        assert keys.fetches == 2
    finally:
        endpoint.release.set()
    results = await asyncio.wait_for(
        asyncio.gather(unknown, *more_unknown, return_exceptions=True), timeout=10
    )
    await keys.close()

    assert all(isinstance(result, Unauthorized) for result in results), results
    assert all(url not in result.message for result in results if isinstance(result, Unauthorized))
    assert keys.fetches == 2


@SQLITE_ONLY
async def test_over_http_a_request_with_a_known_key_is_answered_while_an_unknown_kid_waits_for_the_jwks(
    slow_jwks: tuple[SlowJwks, str], make_app_client: AppClientFactory, settings: Settings,
    core_plugins: TitanPluginManager, monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """L4 as the attack saw it, through Titan's HTTP stack: with the identity provider's JWKS hanging,
    a legitimate request is answered at once; the request naming an unknown key gets a 401 that does
    not name the JWKS URL once the fetch ends."""
    endpoint, url = slow_jwks
    secure = settings.replace(
        auth_enabled=True, jwt_jwks_url=url, jwt_issuer=JWT_ISSUER, jwt_audience=JWT_AUDIENCE
    )
    client = await make_app_client(secure, plugin_manager=core_plugins)

    def bearer(kid: str, subject: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {endpoint.token(kid, subject)}"}

    assert (await client.get("/shells", headers=bearer("known", "first"))).status == 200
    monkeypatch.setattr(jwks_module, "JWKS_MIN_REFRESH_SECONDS", 0.0)
    endpoint.hold = True
    unknown = asyncio.create_task(client.get("/shells", headers=bearer("rotated-away", "mallory")))
    try:
        await asyncio.wait_for(endpoint.holding.wait(), timeout=10)
        known = await asyncio.wait_for(client.get("/shells", headers=bearer("known", "second")), timeout=10)

        assert known.status == 200, await known.text()
        assert not unknown.done(), "the unknown kid's request ended before the known one was answered"
    finally:
        endpoint.release.set()
    refused = await asyncio.wait_for(unknown, timeout=10)
    text = (await refused.json())["messages"][0]["text"]
    assert refused.status == 401 and "(kid)" in text and url not in text, text


async def test_unknown_kids_refetch_at_most_once_per_interval(slow_jwks: tuple[SlowJwks, str]) -> None:
    endpoint, url = slow_jwks
    found = JwtVerifier.from_settings(
        Settings(jwt_jwks_url=url, jwt_issuer=JWT_ISSUER, jwt_audience=JWT_AUDIENCE)
    )
    assert found is not None and found.jwks is not None
    try:
        assert getattr(await found.principal(endpoint.token("known", "first")), "subject", None) == "first"
        for attempt in range(20):
            with pytest.raises(Unauthorized, match="does not publish"):
                await found.principal(endpoint.token(f"unknown-{attempt}", "mallory"))
        # The first fetch was moments ago: within JWKS_MIN_REFRESH_SECONDS no unknown kid refetches.
        assert found.jwks.fetches == 1
    finally:
        await found.jwks.close()

"""JWT bearer tokens: HS256 with a shared secret, RS256/ES256 with a public key file or a JWKS URL;
signature, expiry, not-before, issuer and audience checked; subject, roles and scopes claims
configurable; verified tokens remembered briefly."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from titan_core.auth import ROLE_ADMIN, ROLE_READER, Principal
from titan_core.credentials import jwks as jwks_module
from titan_core.credentials import jwt_bearer
from titan_core.credentials.jwt_bearer import JwtVerifier
from titan_core.errors import TitanError, Unauthorized
from titan_core.settings import Settings, SettingsError

from .jwks_server import serve_jwks
from .twins import JWT_AUDIENCE, JWT_ISSUER, JWT_SECRET, token

JWT_SETTINGS = Settings(jwt_secret=JWT_SECRET, jwt_issuer=JWT_ISSUER, jwt_audience=JWT_AUDIENCE)


def verifier(**changes: Any) -> JwtVerifier:
    found = JwtVerifier.from_settings(JWT_SETTINGS.replace(**changes))
    assert found is not None
    return found


def identity(principal: Principal | None) -> tuple[str, frozenset[str]] | None:
    """(subject, roles) of a verified token, to compare whole: who the verifier thinks the caller is."""
    return None if principal is None else (principal.subject, principal.roles)


ALICE = ("alice", frozenset({ROLE_READER}))  # what `claims()` and `twins.token()` name by default


def claims(**extra: Any) -> dict[str, Any]:
    now = int(time.time())
    return {
        "sub": "alice",
        "iss": JWT_ISSUER,
        "aud": JWT_AUDIENCE,
        "exp": now + 300,
        "roles": ["reader"],
        **extra,
    }


def pem(public_key: Any, path: Path) -> str:
    path.write_bytes(
        public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    return str(path)


async def test_a_valid_hs256_token_gives_its_subject_roles_scopes_and_expiry() -> None:
    exp = int(time.time()) + 120
    principal = await verifier().principal(
        "Bearer "
        + token(
            "line1-gateway", ["writer", "dashboard"], scopes=["https://plant/line1/*"], extra={"exp": exp}
        )
    )

    assert principal is not None
    assert principal.subject == "line1-gateway"
    assert principal.roles == frozenset({"writer", "dashboard"})
    assert principal.has_role(ROLE_READER) and not principal.has_role(ROLE_ADMIN)
    assert principal.scopes == ("https://plant/line1/*",)
    assert principal.expires_at == exp


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        (lambda: token(expires_in=-120), "it has expired"),
        (lambda: token(not_before_in=300), "not valid yet"),
        (lambda: token(audience="another-service"), "another audience"),
        (lambda: token(issuer="https://evil.example"), "another issuer"),
        (lambda: token(secret="another-secret-of-more-than-32-bytes!!"), "signature does not verify"),
        (lambda: jwt.encode({k: v for k, v in claims().items() if k != "exp"}, JWT_SECRET), "exp"),
        (lambda: jwt.encode({k: v for k, v in claims().items() if k != "aud"}, JWT_SECRET), "aud"),
        (lambda: jwt.encode(claims(), JWT_SECRET * 2, algorithm="HS512"), "algorithm"),
        (lambda: jwt.encode(claims(), None, algorithm="none"), "algorithm"),
        (lambda: jwt.encode({k: v for k, v in claims().items() if k != "sub"}, JWT_SECRET), "'sub'"),
        (lambda: jwt.encode(claims(roles={"reader": True}), JWT_SECRET), "list of strings"),
        (lambda: "eyJhbGciOiJIUzI1NiJ9.bm90LWpzb24.c2ln", "refused"),
    ],
)
async def test_a_token_failing_a_check_is_refused_with_the_reason(bad: Any, reason: str) -> None:
    with pytest.raises(Unauthorized, match=reason):
        await verifier().principal(bad())


async def test_clock_skew_within_the_leeway_is_accepted() -> None:
    assert identity(await verifier(jwt_leeway_seconds=30).principal(token(expires_in=-10))) == ALICE
    with pytest.raises(Unauthorized):
        await verifier(jwt_leeway_seconds=0).principal(token(expires_in=-10))


async def test_a_credential_that_is_no_jwt_is_left_to_other_schemes() -> None:
    assert await verifier().principal("titan_abcdef") is None
    assert await verifier().principal(None) is None
    assert await verifier().principal("Basic YWxpY2U6c2VjcmV0") is None


async def test_roles_and_scopes_claims_are_configurable_with_dotted_paths() -> None:
    custom = verifier(jwt_roles_claim="realm_access.roles", jwt_scopes_claim="scope", jwt_subject_claim="azp")
    encoded = jwt.encode(
        claims(azp="gateway-7", realm_access={"roles": ["writer"]}, scope="https://a/* https://b/*"),
        JWT_SECRET,
    )

    principal = await custom.principal(encoded)

    assert principal is not None, "a valid token was not recognised"
    assert (principal.subject, principal.roles, principal.scopes) == (
        "gateway-7", frozenset({"writer"}), ("https://a/*", "https://b/*"),
    )  # fmt: skip


async def test_a_verified_token_is_checked_once_then_remembered(monkeypatch: pytest.MonkeyPatch) -> None:
    decodes: list[str] = []
    real_decode = jwt_bearer.jwt.decode

    def counting_decode(encoded: str, *args: Any, **kwargs: Any) -> Any:
        decodes.append(encoded)
        return real_decode(encoded, *args, **kwargs)

    monkeypatch.setattr(jwt_bearer.jwt, "decode", counting_decode)
    checker = verifier()
    first, second = token("a"), token("b")

    seen = [identity(await checker.principal(first)) for _ in range(3)]
    seen.append(identity(await checker.principal("Bearer " + first)))
    seen.append(identity(await checker.principal(second)))

    assert decodes == [first, second]
    # Remembered tokens keep their own caller: a cache keyed wrongly would hand "a" to "b".
    assert seen == [("a", frozenset({ROLE_READER}))] * 4 + [("b", frozenset({ROLE_READER}))]


async def test_a_remembered_token_still_expires() -> None:
    checker = verifier(jwt_leeway_seconds=0)
    short = token(expires_in=1)
    assert identity(await checker.principal(short)) == ALICE
    time_of_expiry = jwt.decode(short, options={"verify_signature": False})["exp"]
    while time.time() < time_of_expiry + 0.05:
        await asyncio.sleep(0.1)
    with pytest.raises(Unauthorized, match="expired"):
        await checker.principal(short)


@pytest.mark.parametrize("algorithm", ["RS256", "ES256"])
async def test_a_public_key_file_verifies_rs256_and_es256(algorithm: str, tmp_path: Path) -> None:
    private = (
        rsa.generate_private_key(65537, 2048)
        if algorithm == "RS256"
        else ec.generate_private_key(ec.SECP256R1())
    )
    checker = verifier(jwt_secret="", jwt_public_key_file=pem(private.public_key(), tmp_path / "key.pem"))

    principal = await checker.principal(jwt.encode(claims(), private, algorithm=algorithm))

    assert identity(principal) == ALICE
    other = (
        ec.generate_private_key(ec.SECP256R1())
        if algorithm == "ES256"
        else rsa.generate_private_key(65537, 2048)
    )
    with pytest.raises(Unauthorized, match="signature"):
        await checker.principal(jwt.encode(claims(), other, algorithm=algorithm))


async def test_an_hmac_token_signed_with_the_public_key_is_refused(tmp_path: Path) -> None:
    """The classic algorithm confusion: HS256 "signed" with the server's public key as the secret."""
    private = rsa.generate_private_key(65537, 2048)
    key_file = pem(private.public_key(), tmp_path / "key.pem")
    checker = verifier(jwt_secret="", jwt_public_key_file=key_file)
    # Signed by hand: PyJWT itself refuses to use a PEM key as an HMAC secret.
    forged = _hs256_with_raw_key(claims(), Path(key_file).read_bytes())

    with pytest.raises(Unauthorized, match="algorithm"):
        await checker.principal(forged)


def _hs256_with_raw_key(payload: dict[str, Any], key: bytes) -> str:
    def part(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).decode().rstrip("=")

    signing_input = part(b'{"alg":"HS256","typ":"JWT"}') + "." + part(json.dumps(payload).encode())
    signature = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + part(signature)


class Jwks:
    """A JWKS endpoint whose keys a test can rotate; counts how often it is fetched."""

    def __init__(self) -> None:
        self.keys: dict[str, Any] = {}
        self.fetches = 0
        self.down = False

    def add_key(self, kid: str) -> Any:
        private = rsa.generate_private_key(65537, 2048)
        self.keys[kid] = private
        return private

    async def handle(self, request: web.Request) -> web.Response:
        self.fetches += 1
        if self.down:
            return web.Response(status=503)
        documents = []
        for kid, private in self.keys.items():
            jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(private.public_key()))
            documents.append({**jwk, "kid": kid, "use": "sig", "alg": "RS256"})
        return web.json_response({"keys": documents})


@pytest.fixture
async def jwks() -> AsyncIterator[tuple[Jwks, str]]:
    endpoint = Jwks()
    async with serve_jwks(endpoint.handle) as url:
        yield endpoint, url


def signed(private: Any, kid: str, **extra: Any) -> str:
    return jwt.encode(claims(**extra), private, algorithm="RS256", headers={"kid": kid})


async def test_a_jwks_url_is_fetched_once_and_refetched_for_a_new_key(
    jwks: tuple[Jwks, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    endpoint, url = jwks
    first = endpoint.add_key("k1")
    checker = verifier(jwt_secret="", jwt_jwks_url=url)
    try:
        for subject in ("a", "b", "c"):
            principal = await checker.principal(signed(first, "k1", sub=subject))
            assert identity(principal) == (subject, frozenset({ROLE_READER}))
        assert endpoint.fetches == 1

        # The issuer rotates its keys: a token naming the new kid makes Titan look again...
        monkeypatch.setattr(jwks_module, "JWKS_MIN_REFRESH_SECONDS", 0.0)
        second = endpoint.add_key("k2")
        assert identity(await checker.principal(signed(second, "k2"))) == ALICE
        assert endpoint.fetches == 2

        # ...but unknown kids cannot make it fetch on every request.
        monkeypatch.setattr(jwks_module, "JWKS_MIN_REFRESH_SECONDS", 60.0)
        for attempt in range(3):
            with pytest.raises(Unauthorized, match="does not publish"):
                await checker.principal(signed(second, f"unknown-{attempt}"))
        assert endpoint.fetches == 2
    finally:
        assert checker.jwks is not None
        await checker.jwks.close()


async def test_an_unreachable_jwks_answers_503_and_known_keys_outlive_a_failed_refresh(
    jwks: tuple[Jwks, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    endpoint, url = jwks
    key = endpoint.add_key("k1")
    endpoint.down = True
    checker = verifier(jwt_secret="", jwt_jwks_url=url, jwt_jwks_cache_seconds=0)
    try:
        with pytest.raises(TitanError) as refused:
            await checker.principal(signed(key, "k1"))
        assert refused.value.status == 503

        endpoint.down = False
        assert identity(await checker.principal(signed(key, "k1", sub="x"))) == (
            "x",
            frozenset({ROLE_READER}),
        )
        endpoint.down = True
        assert identity(await checker.principal(signed(key, "k1", sub="y"))) == (
            "y",
            frozenset({ROLE_READER}),
        )
    finally:
        assert checker.jwks is not None
        await checker.jwks.close()


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"jwt_audience": ""}, "jwt_audience"),
        ({"jwt_issuer": ""}, "jwt_issuer"),
        ({"jwt_secret": "short"}, "at least 32 bytes"),
        ({"jwt_jwks_url": "https://idp.example/jwks"}, "only one of"),
        ({"jwt_algorithms": ("RS256",)}, "cannot be used with jwt_secret"),
        ({"jwt_secret": "", "jwt_public_key_file": "/nonexistent.pem"}, "cannot read"),
        ({"jwt_secret": "", "jwt_jwks_url": "ftp://idp.example/jwks"}, "http"),
    ],
)
def test_unusable_jwt_settings_are_refused_with_the_setting_named(
    changes: dict[str, Any], message: str
) -> None:
    with pytest.raises(SettingsError, match=message):
        JwtVerifier.from_settings(JWT_SETTINGS.replace(**changes))


def test_without_a_key_jwt_bearer_tokens_are_off() -> None:
    assert JwtVerifier.from_settings(Settings()) is None

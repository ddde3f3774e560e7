"""JWT bearer tokens (PyJWT): HS256 with a shared secret, or RS256/ES256 with a PEM public key file
or a JWKS URL; signature, `exp`, `nbf`, `iss` and `aud` are checked. The built-in plugin `jwt`
answers `titan_authenticate` with them.

A verified token is remembered briefly (keyed by the token string) so a client that sends the same
token with every request costs one signature check per minute, not one per request.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from titan_core.auth import Principal
from titan_core.credentials import bare_token
from titan_core.credentials.jwks import JwksKeys
from titan_core.errors import Forbidden, Unauthorized
from titan_core.hookspecs import hookimpl
from titan_core.settings import Settings, SettingsError

log = logging.getLogger(__name__)

HMAC_ALGORITHMS = frozenset({"HS256", "HS384", "HS512"})
RSA_ALGORITHMS = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"})
EC_ALGORITHMS = frozenset({"ES256", "ES384", "ES512"})
PUBLIC_KEY_ALGORITHMS = RSA_ALGORITHMS | EC_ALGORITHMS
# How long a verified token is trusted without checking it again (never past its `exp`).
VERIFIED_CACHE_SECONDS = 60.0
VERIFIED_CACHE_SIZE = 10_000
# HS256 keys shorter than the hash output are weak (RFC 7518 §3.2).
MIN_SECRET_LENGTH = 32


@dataclass(frozen=True)
class JwtSettings:
    """The checked JWT settings; `key_source` is "secret", "public_key" or "jwks"."""

    key_source: str
    algorithms: tuple[str, ...]
    issuer: str
    audience: str
    leeway: float
    subject_claim: str
    roles_claim: str
    scopes_claim: str
    scopes_required: bool = False
    jwks_url: str = ""
    jwks_cache_seconds: float = 300.0

    @classmethod
    def from_settings(cls, settings: Settings) -> JwtSettings | None:
        """None when no JWT key is configured; `SettingsError` when the configuration is unusable."""
        sources = [name for name, value in (("jwt_secret", settings.jwt_secret),
                                            ("jwt_public_key_file", settings.jwt_public_key_file),
                                            ("jwt_jwks_url", settings.jwt_jwks_url)) if value]  # fmt: skip
        if not sources:
            return None
        if len(sources) > 1:
            raise SettingsError(
                f"set only one of {', '.join(sources)}: Titan verifies tokens with one key source"
            )
        source = {"jwt_secret": "secret", "jwt_public_key_file": "public_key", "jwt_jwks_url": "jwks"}[
            sources[0]
        ]
        for name in ("jwt_audience", "jwt_issuer"):
            if not getattr(settings, name):
                raise SettingsError(
                    f"setting {name!r} must be set when JWT bearer tokens are on: without it a token your "
                    "identity provider issued for another service or by another issuer would be accepted"
                )
        if settings.jwt_leeway_seconds < 0 or settings.jwt_jwks_cache_seconds < 0:
            raise SettingsError(
                "settings 'jwt_leeway_seconds' and 'jwt_jwks_cache_seconds' must not be negative"
            )
        allowed = HMAC_ALGORITHMS if source == "secret" else PUBLIC_KEY_ALGORITHMS
        algorithms = settings.jwt_algorithms or (("HS256",) if source == "secret" else ("RS256", "ES256"))
        wrong = [name for name in algorithms if name not in allowed]
        if wrong:
            raise SettingsError(
                f"setting 'jwt_algorithms': {', '.join(wrong)} cannot be used with {sources[0]}; "
                f"allowed: {', '.join(sorted(allowed))}"
            )
        if source == "secret" and len(settings.jwt_secret.encode()) < MIN_SECRET_LENGTH:
            raise SettingsError(
                f"setting 'jwt_secret' must be at least {MIN_SECRET_LENGTH} bytes long (a random secret; "
                "`python -c 'import secrets; print(secrets.token_urlsafe(48))'` makes one)"
            )
        if source == "jwks" and not settings.jwt_jwks_url.startswith(("https://", "http://")):
            raise SettingsError(
                f"setting 'jwt_jwks_url' must be an http(s) URL, got {settings.jwt_jwks_url!r}"
            )
        return cls(
            key_source=source, algorithms=tuple(algorithms), issuer=settings.jwt_issuer,
            audience=settings.jwt_audience, leeway=float(settings.jwt_leeway_seconds),
            subject_claim=settings.jwt_subject_claim, roles_claim=settings.jwt_roles_claim,
            scopes_claim=settings.jwt_scopes_claim, scopes_required=settings.jwt_scopes_required,
            jwks_url=settings.jwt_jwks_url,
            jwks_cache_seconds=float(settings.jwt_jwks_cache_seconds),
        )  # fmt: skip


def load_public_key(path: str) -> Any:
    """The PEM public key in `path` (RSA or EC); `SettingsError` if it cannot be used."""
    try:
        key = load_pem_public_key(Path(path).read_bytes())
    except OSError as exc:
        raise SettingsError(f"setting 'jwt_public_key_file': cannot read {path}: {exc.strerror}") from None
    except ValueError:
        raise SettingsError(f"setting 'jwt_public_key_file': {path} holds no PEM public key") from None
    if not isinstance(key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey):
        raise SettingsError(f"setting 'jwt_public_key_file': {path} holds neither an RSA nor an EC key")
    return key


class JwtVerifier:
    """Turns bearer tokens into principals, remembering verified ones briefly."""

    def __init__(self, config: JwtSettings, *, secret: str = "", public_key: Any = None) -> None:
        self.config = config
        self._secret = secret
        self._public_key = public_key
        self.jwks = (
            JwksKeys(config.jwks_url, config.jwks_cache_seconds) if config.key_source == "jwks" else None
        )
        self._verified: dict[str, tuple[Principal, float]] = {}

    @classmethod
    def from_settings(cls, settings: Settings) -> JwtVerifier | None:
        config = JwtSettings.from_settings(settings)
        if config is None:
            return None
        public_key = (
            load_public_key(settings.jwt_public_key_file) if config.key_source == "public_key" else None
        )
        return cls(config, secret=settings.jwt_secret, public_key=public_key)

    async def principal(self, token: str | None) -> Principal | None:
        """The token's principal; None if it is no JWT at all; `Unauthorized` if it is a bad one."""
        bare = bare_token(token)
        if bare is None or bare.count(".") != 2:
            return None
        cached = self._verified.get(bare)
        if cached is not None and time.time() < cached[1]:
            return cached[0]
        key: Any = self._secret
        if self.jwks is not None:
            key = await self.jwks.key_for(bare)
        elif self._public_key is not None:
            key = self._public_key
        config = self.config
        # Only the algorithms of the key's own kind: PyJWT fails with a crash, not a refusal, when
        # a token's `alg` names another kind (an ES256 token against an RSA key, issue 13 L3).
        algorithms = [name for name in config.algorithms if name in _algorithms_for(key)]
        if not algorithms:
            raise Unauthorized("the bearer token was refused: its signing key fits none of the accepted "
                               "algorithms (setting jwt_algorithms)")  # fmt: skip
        try:
            claims = jwt.decode(
                bare, key, algorithms=algorithms, audience=config.audience,
                issuer=config.issuer, leeway=config.leeway,
                options={"require": ["exp", "iss", "aud"], "verify_sub": False},
            )  # fmt: skip
        except jwt.PyJWTError as exc:
            raise Unauthorized(f"the bearer token was refused: {_reason(exc)}") from None
        except (ValueError, TypeError) as exc:
            # A key PyJWT could not use with this token (the cryptography layer refused it).
            raise Unauthorized(
                f"the bearer token was refused: {type(exc).__name__} while verifying it"
            ) from None
        principal = self._principal_of(claims)
        self._remember(bare, principal)
        return principal

    def _principal_of(self, claims: Mapping[str, Any]) -> Principal:
        config = self.config
        subject = _claim(claims, config.subject_claim)
        if not isinstance(subject, str) or not subject:
            raise Unauthorized(f"the bearer token has no {config.subject_claim!r} claim naming the caller")
        roles = _strings(_claim(claims, config.roles_claim), config.roles_claim)
        scopes = _scopes(_claim(claims, config.scopes_claim), config)
        return Principal(subject=subject, roles=frozenset(roles), scopes=tuple(scopes),
                         expires_at=float(claims["exp"]))  # fmt: skip

    def _remember(self, token: str, principal: Principal) -> None:
        now = time.time()
        if len(self._verified) >= VERIFIED_CACHE_SIZE:
            self._verified = {key: entry for key, entry in self._verified.items() if entry[1] > now}
            if len(self._verified) >= VERIFIED_CACHE_SIZE:
                self._verified.clear()
        expires = principal.expires_at if principal.expires_at is not None else now
        self._verified[token] = (principal, min(now + VERIFIED_CACHE_SECONDS, expires))


def _claim(claims: Mapping[str, Any], path: str) -> Any:
    """A claim by name, or by a dotted path into nested objects (`realm_access.roles`)."""
    if path in claims:
        return claims[path]
    value: Any = claims
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def _strings(value: Any, claim: str) -> list[str]:
    """A list of strings, or one space-separated string (as OAuth's `scope`), or nothing."""
    if value is None:
        return []
    if isinstance(value, str):
        return value.split()
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return list(value)
    raise Unauthorized(
        f"the bearer token's {claim!r} claim must be a list of strings or a space-separated string"
    )


def _scopes(value: Any, config: JwtSettings) -> list[str]:
    """The scope patterns of the claim. Only an absent claim means "unrestricted" (and is refused
    with `scopes_required`); one that is present but holds no pattern (`[]`, `""`, `"  "`) grants
    no twin, so removing a user's last scope in the identity provider never grants them all."""
    claim = config.scopes_claim
    if value is None:
        if config.scopes_required:
            raise Forbidden(
                f"the bearer token has no {claim!r} claim, which this server requires (setting "
                "jwt_scopes_required): ask the identity provider to issue the caller's scopes"
            )
        return []
    scopes = [scope.strip() for scope in _strings(value, claim) if scope.strip()]
    if not scopes:
        raise Forbidden(f"the bearer token's {claim!r} claim is empty: it grants access to no twin")
    return scopes


def _algorithms_for(key: Any) -> frozenset[str]:
    if isinstance(key, rsa.RSAPublicKey):
        return RSA_ALGORITHMS
    if isinstance(key, ec.EllipticCurvePublicKey):
        return EC_ALGORITHMS
    return HMAC_ALGORITHMS if isinstance(key, str | bytes) else PUBLIC_KEY_ALGORITHMS


# Why a token was refused, in words a client can act on; none of these classes derives from another.
_REASONS: tuple[tuple[type[jwt.PyJWTError], str], ...] = (
    (jwt.ExpiredSignatureError, "it has expired"),
    (jwt.ImmatureSignatureError, "it is not valid yet (nbf/iat in the future)"),
    (jwt.InvalidAudienceError, "it was issued for another audience"),
    (jwt.InvalidIssuerError, "it comes from another issuer"),
    (jwt.InvalidSignatureError, "its signature does not verify"),
    (jwt.InvalidAlgorithmError, "it is signed with an algorithm this server does not accept"),
)


def _reason(exc: jwt.PyJWTError) -> str:
    for kind, reason in _REASONS:
        if isinstance(exc, kind):
            return reason
    return str(exc) or type(exc).__name__


JWT_VERIFIER: web.AppKey[JwtVerifier] = web.AppKey("titan.jwt_verifier", JwtVerifier)


async def close_jwks(app: web.Application) -> AsyncIterator[None]:
    """`cleanup_ctx` entry: closes the JWKS client's connections when the app stops."""
    yield
    verifier = app.get(JWT_VERIFIER)
    if verifier is not None and verifier.jwks is not None:
        await verifier.jwks.close()


@hookimpl
async def titan_authenticate(request: web.Request, token: str | None) -> Principal | None:
    """A valid JWT's principal; raises for a JWT that fails a check; None for anything else."""
    verifier = request.app.get(JWT_VERIFIER)
    return None if verifier is None else await verifier.principal(token)

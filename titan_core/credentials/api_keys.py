"""Static API keys: the configuration holds only their SHA-256 digests, a request costs one hash and
one dict lookup. The built-in plugin `api_keys` answers `titan_authenticate` with them.

Why an unsalted SHA-256 and not a salted, slow password hash: keys are random 256-bit secrets
(`titan keys new`), so no dictionary or precomputed table can find one from its digest, and a salt
would add nothing; a slow hash protects weak human passwords, which `titan keys hash` refuses, and
would cost every request tens of milliseconds (or a cache of clear keys) instead of a lookup.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

from aiohttp import web

from titan_core.auth import ALL_ROLES, Principal
from titan_core.credentials import bare_token
from titan_core.hookspecs import hookimpl
from titan_core.settings import SettingsError

DIGEST_PREFIX = "sha256:"
KEY_PREFIX = "titan_"
# Keys shorter than this are refused by `titan keys hash`: too guessable for an unsalted digest.
MIN_KEY_LENGTH = 32
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
_ENTRY_FIELDS = ("subject", "role", "scope")


@dataclass(frozen=True)
class ApiKey:
    """One configured key: its digest and the principal it stands for."""

    digest: str
    principal: Principal


def new_api_key() -> str:
    """A fresh random key (256 bits): `titan_` and 43 URL-safe characters."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_api_key(key: str) -> str:
    """The digest the configuration stores for `key`: `sha256:<64 hex digits>`."""
    return DIGEST_PREFIX + hashlib.sha256(key.encode("utf-8")).hexdigest()


def config_entry(digest: str, subject: str, roles: Iterable[str], scopes: Iterable[str] = ()) -> str:
    """The `api_keys` entry for a key: `sha256:…;subject=…;role=…;scope=…`."""
    parts = [digest, f"subject={subject}"]
    parts += [f"role={role}" for role in roles]
    parts += [f"scope={scope}" for scope in scopes]
    return ";".join(parts)


def parse_api_key(entry: str) -> ApiKey:
    """One `api_keys` entry; `SettingsError` naming what is wrong and what the format is."""
    digest, *fields = [part.strip() for part in entry.strip().split(";")]
    shown = digest[:16] + "…" if len(digest) > 16 else digest
    if not _DIGEST.match(digest.lower()):
        raise SettingsError(
            f"api_keys entry starting {shown!r}: it must start with sha256:<64 hex digits>, the digest "
            "`titan keys hash` prints (never the key itself); format: "
            "sha256:<hex>;subject=<name>;role=<reader|writer|admin>[;role=…][;scope=<pattern>…]"
        )
    subject, roles, scopes = "", set(), []
    for field in fields:
        name, sep, value = field.partition("=")
        name, value = name.strip(), value.strip()
        if not sep or name not in _ENTRY_FIELDS or not value:
            raise SettingsError(f"api_keys entry {shown}: {field!r} is not one of subject=…, role=…, scope=…")
        if name == "subject":
            subject = value
        elif name == "role":
            if value not in ALL_ROLES:
                raise SettingsError(
                    f"api_keys entry {shown}: unknown role {value!r}; roles: {', '.join(sorted(ALL_ROLES))}"
                )
            roles.add(value)
        else:
            scopes.append(value)
    if not roles:
        raise SettingsError(f"api_keys entry {shown}: it grants no role; add role=reader, writer or admin")
    digest = digest.lower()
    principal = Principal(subject=subject or f"api-key:{digest[7:15]}", roles=frozenset(roles),
                          scopes=tuple(scopes))  # fmt: skip
    return ApiKey(digest, principal)


class ApiKeyTable:
    """The configured keys by digest."""

    def __init__(self, entries: Iterable[str]) -> None:
        self._by_digest: dict[str, Principal] = {}
        for entry in entries:
            key = parse_api_key(entry)
            if key.digest in self._by_digest:
                raise SettingsError(f"api_keys lists the digest {key.digest[:16]}… twice")
            self._by_digest[key.digest] = key.principal

    def __len__(self) -> int:
        return len(self._by_digest)

    def principal(self, token: str | None) -> Principal | None:
        """The principal of the key `token` (with or without a scheme), or None if it is no known key."""
        bare = bare_token(token)
        if bare is None or not self._by_digest:
            return None
        return self._by_digest.get(hash_api_key(bare))


API_KEYS: web.AppKey[ApiKeyTable] = web.AppKey("titan.api_keys", ApiKeyTable)


@hookimpl
def titan_authenticate(request: web.Request, token: str | None) -> Principal | None:
    """A known API key's principal; anything else is "not mine" (a JWT, another plugin's token)."""
    table = request.app.get(API_KEYS)
    return None if table is None else table.principal(token)

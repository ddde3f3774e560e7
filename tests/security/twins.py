"""The twins and credentials of the security tests: one shell with its submodel and a concept
description inside the scope `https://example.com/ids/*`, one shell and submodel outside it."""

from __future__ import annotations

import json
import time
from typing import Any

import jwt

from tests.support.twins import b64 as b64  # re-exported for the security tests
from tests.support.twins import prop
from titan_core.credentials.api_keys import config_entry, hash_api_key

JsonDict = dict[str, Any]

SCOPE = "https://example.com/ids/*"
SHELL_ID = "https://example.com/ids/aas/pump"
SM_ID = "https://example.com/ids/sm/pump-data"
CD_ID = "https://example.com/ids/cd/temperature"
OTHER_SHELL_ID = "https://other.example/ids/aas/press"
OTHER_SM_ID = "https://other.example/ids/sm/press-data"

JWT_SECRET = "a-test-secret-of-more-than-32-bytes-0123456789"
JWT_ISSUER = "https://idp.example.com"
JWT_AUDIENCE = "titan-tests"

# API keys by name; each stands for the principal of the same name.
KEYS = {
    "reader": "titan_reader-key-0123456789abcdefghijklmnopqrstuv",
    "writer": "titan_writer-key-0123456789abcdefghijklmnopqrstuv",
    "admin": "titan_admin-key-0123456789abcdefghijklmnopqrstuvw",
    "outsider": "titan_scoped-key-0123456789abcdefghijklmnopqrstu",
}
API_KEY_ENTRIES = (
    config_entry(hash_api_key(KEYS["reader"]), "dashboard", ["reader"]),
    config_entry(hash_api_key(KEYS["writer"]), "gateway", ["writer"]),
    config_entry(hash_api_key(KEYS["admin"]), "operator", ["admin"]),
    config_entry(hash_api_key(KEYS["outsider"]), "line2-gateway", ["writer"], ["https://other.example/*"]),
)


def token(
    subject: str = "alice",
    roles: Any = ("reader",),
    *,
    scopes: Any = None,
    secret: str = JWT_SECRET,
    audience: str = JWT_AUDIENCE,
    issuer: str = JWT_ISSUER,
    # An hour: tests mint their tokens when they run (never at import), so this only has to outlast
    # one test on a slow machine.
    expires_in: float = 3_600,
    not_before_in: float | None = None,
    extra: JsonDict | None = None,
) -> str:
    """An HS256 token with the given claims (`roles` None leaves the claim out)."""
    now = time.time()
    claims: JsonDict = {
        "sub": subject,
        "iss": issuer,
        "aud": audience,
        "iat": int(now),
        "exp": int(now + expires_in),
    }
    if roles is not None:
        claims["roles"] = list(roles)
    if scopes is not None:
        claims["titan_scopes"] = list(scopes)
    if not_before_in is not None:
        claims["nbf"] = int(now + not_before_in)
    claims.update(extra or {})
    return jwt.encode(claims, secret, algorithm="HS256")


def bearer(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}


def api_key(name: str) -> dict[str, str]:
    return {"X-API-Key": KEYS[name]}


def submodel(submodel_id: str) -> JsonDict:
    return {
        "modelType": "Submodel",
        "id": submodel_id,
        "idShort": "PumpData",
        "submodelElements": [
            prop("Temperature", "21.5", "xs:double"),
            {"modelType": "File", "idShort": "Manual", "contentType": "text/plain", "value": "manual.txt"},
            {"modelType": "SubmodelElementCollection", "idShort": "Nested", "value": [prop("Inner", "x")]},
            {"modelType": "Operation", "idShort": "Run"},
        ],
    }


def shell(shell_id: str, submodel_id: str) -> JsonDict:
    return {
        "modelType": "AssetAdministrationShell",
        "id": shell_id,
        "idShort": "Pump",
        "assetInformation": {
            "assetKind": "Instance",
            "globalAssetId": shell_id + "/asset",
            "defaultThumbnail": {"path": "thumbnail.png", "contentType": "image/png"},
        },
        "submodels": [{"type": "ModelReference", "keys": [{"type": "Submodel", "value": submodel_id}]}],
    }


def concept_description(cd_id: str) -> JsonDict:
    return {"modelType": "ConceptDescription", "id": cd_id, "idShort": "Temperature"}


def dumps(document: Any) -> bytes:
    return json.dumps(document).encode()

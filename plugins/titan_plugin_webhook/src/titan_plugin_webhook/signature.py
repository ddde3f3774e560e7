"""The `Titan-Signature` header: an HMAC-SHA256 over a timestamp and the exact request body.

    Titan-Signature: t=1764221148,v1=5f2b…(64 hex digits)

`v1` is HMAC-SHA256 with the shared secret as key over `"<t>." + body` (the raw bytes as sent).
The timestamp is signed too, so a receiver that refuses old timestamps cannot be fed a replay of a
request it saw earlier; every retry is signed afresh with the time of that attempt.
"""

from __future__ import annotations

import hashlib
import hmac
import time

SIGNATURE_HEADER = "Titan-Signature"
# How old a signed request a receiver accepts by default; also covers modest clock skew.
DEFAULT_TOLERANCE_SECONDS = 300


class SignatureError(ValueError):
    """A request's signature is missing, malformed, stale or wrong; the message says which."""


def signature_header(secret: str, body: bytes, *, timestamp: int | None = None) -> str:
    """The `Titan-Signature` value for `body`, signed now (or at `timestamp`, in Unix seconds)."""
    signed_at = int(time.time()) if timestamp is None else timestamp
    return f"t={signed_at},v1={_digest(secret, signed_at, body)}"


def verify_signature(
    secret: str,
    header: str | None,
    body: bytes,
    *,
    tolerance: float = DEFAULT_TOLERANCE_SECONDS,
    now: float | None = None,
) -> None:
    """Check a received `Titan-Signature` header against the raw body; raise `SignatureError` if bad.

    Receivers must pass the body exactly as received, before any JSON parsing.
    """
    if not header:
        raise SignatureError(f"no {SIGNATURE_HEADER} header")
    fields: dict[str, list[str]] = {}
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        fields.setdefault(key, []).append(value)
    try:
        signed_at = int(fields["t"][0])
    except (KeyError, ValueError):
        raise SignatureError(f"{SIGNATURE_HEADER} has no integer timestamp t=…: {header!r}") from None
    age = (time.time() if now is None else now) - signed_at
    if abs(age) > tolerance:
        raise SignatureError(f"the signature is {age:.0f} s old; at most {tolerance:g} s is accepted")
    expected = _digest(secret, signed_at, body)
    # Several v1 values are allowed so a sender can sign with an old and a new secret at once.
    if not any(hmac.compare_digest(expected, candidate) for candidate in fields.get("v1", [])):
        raise SignatureError("the signature does not match the body and the secret")


def _digest(secret: str, signed_at: int, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{signed_at}.".encode() + body, hashlib.sha256).hexdigest()

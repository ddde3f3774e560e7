"""The `/ws/events` wire protocol (DESIGN §4): client messages parsed and checked, server messages
built, and the error and close codes. No I/O here.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from titan_core.plugin_api import BadRequest, EventFilter, parse_filter_json

# Close codes. 4401/4403/4408/4429 mirror the HTTP statuses a browser cannot read on a handshake.
CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_AUTH_TIMEOUT = 4408
CLOSE_TOO_SLOW = 4429
CLOSE_TOO_BIG = 1009
CLOSE_GOING_AWAY = 1001

# Error codes of `{"type":"error"}` messages.
BAD_MESSAGE = "bad_message"
UNKNOWN_SUBSCRIPTION = "unknown_subscription"
HISTORY_EXPIRED = "history_expired"
FORBIDDEN = "forbidden"
UNAUTHENTICATED = "unauthenticated"
TOO_MANY_SUBSCRIPTIONS = "too_many_subscriptions"
UNAVAILABLE = "unavailable"

MAX_ID_LENGTH = 128
MAX_THROTTLE_MS = 3_600_000
_DIGITS = re.compile(r"^[0-9]{1,19}$")
_SUBSCRIBE_KEYS = frozenset({"type", "id", "filter", "since", "throttle_ms", "profile"})
# Envelope forms a subscription may ask for (titan_core/delivery/profiles.py); BaSyx's is MQTT topics.
WS_PROFILES = ("titan", "async-aas")


class ProtocolError(Exception):
    """A client message the server cannot act on: answered with an error message, never a close."""

    def __init__(self, code: str, message: str, subscription: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.subscription = subscription


@dataclass(frozen=True)
class Auth:
    token: str


@dataclass(frozen=True)
class Subscribe:
    id: str
    filter: EventFilter
    since: int | None
    throttle_ms: int
    profile: str = "titan"


@dataclass(frozen=True)
class Unsubscribe:
    id: str


@dataclass(frozen=True)
class Ping:
    pass


ClientMessage = Auth | Subscribe | Unsubscribe | Ping


def parse_client_message(data: bytes | str) -> ClientMessage:
    """One client text frame as a message; `ProtocolError(bad_message)` says what is wrong with it."""
    try:
        document = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        raise ProtocolError(BAD_MESSAGE, 'a message must be a JSON object, e.g. {"type":"ping"}') from None
    if not isinstance(document, dict):
        raise ProtocolError(BAD_MESSAGE, 'a message must be a JSON object, e.g. {"type":"ping"}')
    kind = document.get("type")
    if kind == "subscribe":
        return _subscribe(document)
    if kind == "unsubscribe":
        return Unsubscribe(_subscription_id(document))
    if kind == "auth":
        token = document.get("token")
        if not isinstance(token, str) or not token:
            raise ProtocolError(
                BAD_MESSAGE, 'auth takes a non-empty string token: {"type":"auth","token":"…"}'
            )
        return Auth(token)
    if kind == "ping":
        return Ping()
    raise ProtocolError(
        BAD_MESSAGE, f"unknown message type {kind!r}; accepted: subscribe, unsubscribe, auth, ping"
    )


def _subscription_id(document: dict[str, Any]) -> str:
    identifier = document.get("id")
    if not isinstance(identifier, str) or not identifier or len(identifier) > MAX_ID_LENGTH:
        raise ProtocolError(
            BAD_MESSAGE,
            f"{document.get('type')} needs an id: a non-empty string of at most {MAX_ID_LENGTH} characters",
        )
    return identifier


def _subscribe(document: dict[str, Any]) -> Subscribe:
    identifier = _subscription_id(document)
    unknown = sorted(set(document) - _SUBSCRIBE_KEYS)
    if unknown:
        raise ProtocolError(
            BAD_MESSAGE,
            f"subscribe has unknown key {unknown[0]!r}; accepted: {', '.join(sorted(_SUBSCRIBE_KEYS))}",
            identifier,
        )
    try:
        event_filter = parse_filter_json(document.get("filter"))
    except BadRequest as exc:
        raise ProtocolError(BAD_MESSAGE, exc.message, identifier) from None
    return Subscribe(
        identifier,
        event_filter,
        _since(document, identifier),
        _throttle(document, identifier),
        _profile(document, identifier),
    )


def _profile(document: dict[str, Any], identifier: str) -> str:
    raw = document.get("profile", "titan")
    if raw not in WS_PROFILES:
        raise ProtocolError(
            BAD_MESSAGE, f"profile {raw!r} is not known; accepted: {', '.join(WS_PROFILES)}", identifier
        )
    return str(raw)


def _since(document: dict[str, Any], identifier: str) -> int | None:
    raw = document.get("since")
    if raw is None:
        return None
    # A titanseq is a string of digits on the wire; a JSON number is taken too, if it is whole.
    if isinstance(raw, int) and not isinstance(raw, bool) and raw >= 0:
        return raw
    if isinstance(raw, str) and _DIGITS.match(raw):
        return int(raw)
    raise ProtocolError(
        BAD_MESSAGE,
        f'since {raw!r} is not a titanseq: pass decimal digits in a string, e.g. "1234"',
        identifier,
    )


def _throttle(document: dict[str, Any], identifier: str) -> int:
    raw = document.get("throttle_ms", 0)
    if isinstance(raw, bool) or not isinstance(raw, int) or not 0 <= raw <= MAX_THROTTLE_MS:
        raise ProtocolError(
            BAD_MESSAGE,
            f"throttle_ms {raw!r} is not valid: pass whole milliseconds from 0 (no throttling) to {MAX_THROTTLE_MS}",
            identifier,
        )
    return raw


# --- Server messages -------------------------------------------------------------------------------


def _dump(message: dict[str, Any]) -> bytes:
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode()


def welcome(head: int, oldest: int, version: str) -> bytes:
    return _dump({"type": "welcome", "head": str(head), "oldest": str(oldest), "server": "titan-aas",
                  "version": version})  # fmt: skip


def subscribed(identifier: str) -> bytes:
    return _dump({"type": "subscribed", "id": identifier})


def error(code: str, message: str, subscription: str | None = None) -> bytes:
    body: dict[str, Any] = {"type": "error", "code": code, "message": message}
    if subscription is not None:
        body["id"] = subscription
    return _dump(body)


PONG = _dump({"type": "pong"})


def event_prefix(subscription: str) -> bytes:
    """The bytes before the envelope in `{"type":"event","subscription":…,"event":<envelope>}`.

    The envelope's JSON text, serialised once when the event was written, goes in as it is; the
    message is this prefix, the envelope and `}`.
    """
    return (
        b'{"type":"event","subscription":'
        + json.dumps(subscription, ensure_ascii=False).encode()
        + b',"event":'
    )


EVENT_SUFFIX = b"}"


def close_reason(text: str) -> bytes:
    """A close frame's reason: at most 123 bytes of UTF-8 (RFC 6455 §5.5), cut on a character."""
    encoded = text.encode()
    if len(encoded) <= 123:
        return encoded
    return encoded[:123].decode(errors="ignore").encode()

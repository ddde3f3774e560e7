"""The plugin's settings: the `[ws]` table of the TOML file and the `TITAN_WS_*` variables.

The per-connection limits on what clients send (message size, rate) are core settings
(`ws_max_message_bytes`, `ws_messages_per_second`, `ws_message_burst`); the `[ws]` table may
override them for this plugin alone.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from titan_core.plugin_api import Settings, SettingsError

# `TITAN_WS_MAX_MESSAGE_BYTES` is the core setting `ws_max_message_bytes` and, through
# `Settings.section("ws")`, also shows up here as `max_message_bytes`: both name the same limit.
_CORE_LIMITS = {
    "max_message_bytes": "ws_max_message_bytes",
    "messages_per_second": "ws_messages_per_second",
    "message_burst": "ws_message_burst",
}


@dataclass(frozen=True)
class WsConfig:
    # Origins (scheme://host[:port]) whose pages may connect besides those the core allows (its own
    # origin under an allowed Host, `allowed_origins`, `cors_allowed_origins`); "*" allows every
    # origin. Clients that send no Origin header (non-browser programs) are not affected.
    allowed_origins: tuple[str, ...] = ()
    # Authenticate every WebSocket client even when the core's authentication is off.
    require_auth: bool = False
    # Seconds a client that has to authenticate may take to send its `auth` message (then 4408).
    auth_timeout: float = 10.0
    # Messages (and bytes) waiting for one client before it counts as too slow (closed with 4429).
    queue_messages: int = 1000
    queue_bytes: int = 8 * 1024 * 1024
    # Seconds between WebSocket pings; a peer that does not answer within half of it is dropped.
    # 0 switches heartbeats off.
    heartbeat: float = 30.0
    # Seconds a closing handshake may take before the connection is cut.
    close_timeout: float = 5.0
    max_subscriptions: int = 32
    # Serve the live console page at /ws/console.
    console: bool = True
    # Limits on what one client sends (defaults: the core settings ws_*).
    max_message_bytes: int = 65_536
    messages_per_second: float = 20.0
    message_burst: int = 60

    @classmethod
    def from_settings(cls, settings: Settings) -> WsConfig:
        """Parse and check the `[ws]` section; `SettingsError` names the setting at fault."""
        section: dict[str, Any] = {
            key: getattr(settings, core) for key, core in _CORE_LIMITS.items() if hasattr(settings, core)
        }
        section.update(settings.section("ws"))
        return cls.from_section(section)

    @classmethod
    def from_section(cls, section: Mapping[str, Any]) -> WsConfig:
        known = {field.name for field in fields(cls)}
        unknown = sorted(set(section) - known)
        if unknown:
            raise SettingsError(
                f"unknown ws setting(s) {', '.join(unknown)} (TITAN_WS_{unknown[0].upper()}); "
                f"known: {', '.join(sorted(known))}"
            )
        defaults = cls()
        return cls(
            allowed_origins=_origins(section.get("allowed_origins", defaults.allowed_origins)),
            require_auth=_flag(section, "require_auth", defaults.require_auth),
            auth_timeout=_number(section, "auth_timeout", defaults.auth_timeout, minimum=0.001),
            queue_messages=_whole(section, "queue_messages", defaults.queue_messages, minimum=2),
            queue_bytes=_whole(section, "queue_bytes", defaults.queue_bytes, minimum=1024),
            heartbeat=_number(section, "heartbeat", defaults.heartbeat, minimum=0),
            close_timeout=_number(section, "close_timeout", defaults.close_timeout, minimum=0.001),
            max_subscriptions=_whole(section, "max_subscriptions", defaults.max_subscriptions, minimum=1),
            console=_flag(section, "console", defaults.console),
            max_message_bytes=_whole(section, "max_message_bytes", defaults.max_message_bytes, minimum=256),
            messages_per_second=_number(
                section, "messages_per_second", defaults.messages_per_second, minimum=0.001
            ),
            message_burst=_whole(section, "message_burst", defaults.message_burst, minimum=1),
        )


def _origins(raw: Any) -> tuple[str, ...]:
    items = raw.split(",") if isinstance(raw, str) else raw
    if not isinstance(items, list | tuple):
        raise SettingsError(f"ws setting allowed_origins must be a list of origins, got {raw!r}")
    origins = tuple(str(item).strip().rstrip("/").lower() for item in items if str(item).strip())
    for origin in origins:
        if origin != "*" and not origin.startswith(("http://", "https://")):
            raise SettingsError(
                f"ws setting allowed_origins: {origin!r} is not an origin like https://dashboard.example:8443 "
                "(or * for any)"
            )
    return origins


def _flag(section: Mapping[str, Any], name: str, default: bool) -> bool:
    raw = section.get(name, default)
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in {"1", "true", "yes", "on"}:
        return True
    if text in {"0", "false", "no", "off"}:
        return False
    raise SettingsError(f"ws setting {name} must be true or false, got {raw!r}")


def _number(section: Mapping[str, Any], name: str, default: float, *, minimum: float) -> float:
    raw = section.get(name, default)
    try:
        if isinstance(raw, bool):  # TOML `true` is no number, though Python would say 1
            raise TypeError
        value = float(raw)
    except (TypeError, ValueError):
        raise SettingsError(f"ws setting {name} must be a number, got {raw!r}") from None
    if not math.isfinite(value) or value < minimum:
        raise SettingsError(f"ws setting {name} must be a number of at least {minimum:g}, got {raw!r}")
    return value


def _whole(section: Mapping[str, Any], name: str, default: int, *, minimum: int) -> int:
    value = _number(section, name, default, minimum=minimum)
    if not value.is_integer():
        raise SettingsError(f"ws setting {name} must be a whole number, got {section.get(name)!r}")
    return int(value)

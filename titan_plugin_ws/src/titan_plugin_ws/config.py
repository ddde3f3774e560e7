"""The plugin's settings: the `[ws]` table of the TOML file and the `TITAN_WS_*` variables.

Checked by the core's settings mechanism (`titan_core.settings`): each field names its bounds, a
misspelt key is refused. `max_message_bytes`, `messages_per_second` and `message_burst` were core
settings (`ws_*`) before 0.2; the core still moves those old keys here, with a warning.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from titan_core.plugin_api import Names, Number, SettingsSection, Whole, setting

_ORIGIN_SCHEMES = ("http://", "https://")


class Origins(Names):
    """Browser origins (`https://dashboard.example:8443`), or `*` for any."""

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> tuple[str, ...]:
        origins = tuple(origin.rstrip("/").lower() for origin in super()._deserialize(value, attr, data))
        for origin in origins:
            if origin != "*" and not origin.startswith(_ORIGIN_SCHEMES):
                raise self.refuse("origins like https://dashboard.example:8443 (or * for any)", origin)
        return origins


@dataclass(frozen=True)
class WsConfig(SettingsSection):
    section: ClassVar[str] = "ws"
    # Origins (scheme://host[:port]) whose pages may connect besides those the core allows (its own
    # origin under an allowed Host, `allowed_origins`, `cors_allowed_origins`); "*" allows every
    # origin. Clients that send no Origin header (non-browser programs) are not affected.
    allowed_origins: tuple[str, ...] = setting((), Origins())
    # Authenticate every WebSocket client even when the core's authentication is off.
    require_auth: bool = False
    # Seconds a client that has to authenticate may take to send its `auth` message (then 4408).
    auth_timeout: float = setting(10.0, Number(minimum=0.001))
    # Messages (and bytes) waiting for one client before it counts as too slow (closed with 4429).
    queue_messages: int = setting(1000, Whole(minimum=2))
    queue_bytes: int = setting(8 * 1024 * 1024, Whole(minimum=1024))
    # Seconds between WebSocket pings; a peer that does not answer within half of it is dropped.
    # 0 switches heartbeats off.
    heartbeat: float = setting(30.0, Number(minimum=0))
    # Seconds a closing handshake may take before the connection is cut.
    close_timeout: float = setting(5.0, Number(minimum=0.001))
    max_subscriptions: int = setting(32, Whole(minimum=1))
    # Serve the live console page at /ws/console.
    console: bool = True
    # What one client may send: the largest message (bigger: closed with 1009), and how many per
    # second on average, in bursts of up to `message_burst` (more: closed with 4429).
    max_message_bytes: int = setting(65_536, Whole(minimum=256))
    messages_per_second: float = setting(20.0, Number(minimum=0.001))
    message_burst: int = setting(60, Whole(minimum=1))

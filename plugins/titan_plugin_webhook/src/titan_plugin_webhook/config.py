"""The plugin's settings: the `[webhook]` table of the TOML file and the `TITAN_WEBHOOK_*` variables.

Checked once at startup by the core's settings mechanism (`titan_core.settings`: each field names
what it accepts, a misspelt key is refused), so a typo stops the plugin with a message instead of
failing on the first event.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar
from urllib.parse import urlsplit

from marshmallow import ValidationError

from titan_core.plugin_api import (
    Names,
    Number,
    SettingField,
    SettingsError,
    SettingsSection,
    Text,
    Whole,
    setting,
)


class Urls(Names):
    """Receiver URLs: http:// or https:// with a host, each at most once."""

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> tuple[str, ...]:
        urls = super()._deserialize(value, attr, data)
        for url in urls:
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValidationError(
                    f"must hold web addresses: {display_url(url)!r} is not an http:// or https:// URL with a host"
                )
        if len(set(urls)) != len(urls):
            raise ValidationError("names the same URL twice")
        return urls


class Scopes(SettingField[dict[str, tuple[str, ...]]]):
    """URL -> identifier patterns: a TOML table `[webhook.scopes]`, or the same as JSON in a variable."""

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> dict[str, tuple[str, ...]]:
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except json.JSONDecodeError:
                value = None
        if not isinstance(value, Mapping):
            raise ValidationError('must map URLs to lists of identifier patterns, '
                                  'e.g. {"https://b/hook": ["https://plant.example/line1/*"]}')  # fmt: skip
        scopes: dict[str, tuple[str, ...]] = {}
        for url, patterns in value.items():
            if not isinstance(patterns, list | tuple) or not all(isinstance(item, str) for item in patterns):
                raise ValidationError(f"for {url!r} must be a list of identifier patterns")
            scopes[url] = tuple(patterns)
        return scopes


@dataclass(frozen=True)
class WebhookConfig(SettingsSection):
    section: ClassVar[str] = "webhook"
    # Where every event goes; each URL gets its own sink, so a dead receiver never holds up another.
    urls: tuple[str, ...] = setting((), Urls())
    # Shared secret for the Titan-Signature header; empty sends no signature.
    secret: str = setting("", Text(secret=True))
    # Seconds one POST may take, connecting included.
    timeout: float = setting(10.0, Number(minimum=0.001))
    # Extra attempts of one request after a 5xx, 408, 429 or connection error.
    retries: int = setting(3, Whole(minimum=0))
    # Seconds before the first retry; doubled for each further one, up to max_backoff.
    backoff: float = setting(0.5, Number(minimum=0))
    max_backoff: float = setting(30.0, Number(minimum=0))
    # Events per request. 1 sends each event alone (CloudEvents structured mode); more sends
    # JSON arrays of up to this many (CloudEvents batched mode).
    max_batch: int = setting(1, Whole(minimum=1))
    # Who each URL receives events as: a reader limited to these identifier patterns (URL → list;
    # a URL not named gets every event). The same check as /events and WebSocket clients.
    scopes: Mapping[str, tuple[str, ...]] = setting(factory=dict, field=Scopes())

    def check(self) -> None:
        for url in self.scopes:
            if url not in self.urls:
                raise SettingsError(
                    f"webhook setting scopes names {url!r}, which is not one of the urls", setting="scopes"
                )


def display_url(url: str) -> str:
    """The URL without credentials or query string, for logs and `/ready` (both may hold secrets)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:  # an IPv6 address needs its brackets back
        host = f"[{host}]"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"

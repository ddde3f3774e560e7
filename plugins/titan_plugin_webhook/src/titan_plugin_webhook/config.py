"""The plugin's settings: the `[webhook]` table of the TOML file and the `TITAN_WEBHOOK_*` variables.

Titan hands every plugin its own section (`settings.section("webhook")`) as raw values: strings
from the environment, typed values from TOML. Checking them is the plugin's job, done once at
startup so a typo stops the plugin with a message instead of failing on the first event.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any
from urllib.parse import urlsplit

from titan_core.plugin_api import SettingsError


@dataclass(frozen=True)
class WebhookConfig:
    # Where every event goes; each URL gets its own sink, so a dead receiver never holds up another.
    urls: tuple[str, ...] = ()
    # Shared secret for the Titan-Signature header; empty sends no signature.
    secret: str = ""
    # Seconds one POST may take, connecting included.
    timeout: float = 10.0
    # Extra attempts of one request after a 5xx, 408, 429 or connection error.
    retries: int = 3
    # Seconds before the first retry; doubled for each further one, up to max_backoff.
    backoff: float = 0.5
    max_backoff: float = 30.0
    # Events per request. 1 sends each event alone (CloudEvents structured mode); more sends
    # JSON arrays of up to this many (CloudEvents batched mode).
    max_batch: int = 1
    # Who each URL receives events as: a reader limited to these identifier patterns (URL → list;
    # a URL not named gets every event). The same check as /events and WebSocket clients.
    scopes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def from_section(cls, section: Mapping[str, Any]) -> WebhookConfig:
        """Parse and check the raw section; raise `SettingsError` naming the setting at fault."""
        known = {field.name for field in fields(cls)}
        unknown = sorted(set(section) - known)
        if unknown:
            raise SettingsError(
                f"unknown webhook setting(s) {', '.join(unknown)} (TITAN_WEBHOOK_{unknown[0].upper()}); "
                f"known: {', '.join(sorted(known))}"
            )
        defaults = cls()
        urls = _urls(section.get("urls", defaults.urls))
        config = cls(
            urls=urls,
            secret=str(section.get("secret", defaults.secret)),
            timeout=_number(section, "timeout", defaults.timeout, minimum=0.001),
            retries=int(_number(section, "retries", defaults.retries, minimum=0, whole=True)),
            backoff=_number(section, "backoff", defaults.backoff, minimum=0),
            max_backoff=_number(section, "max_backoff", defaults.max_backoff, minimum=0),
            max_batch=int(_number(section, "max_batch", defaults.max_batch, minimum=1, whole=True)),
            scopes=_scopes(section.get("scopes", {}), urls),
        )
        return config


def _scopes(raw: Any, urls: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    # TOML: a table `[webhook.scopes]` of URL = [patterns]; the environment: the same as JSON.
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError:
            raw = None
    if not isinstance(raw, Mapping):
        raise SettingsError('webhook setting scopes must map URLs to lists of identifier patterns, '
                            'e.g. {"https://b/hook": ["https://plant.example/line1/*"]}')  # fmt: skip
    scopes: dict[str, tuple[str, ...]] = {}
    for url, patterns in raw.items():
        if url not in urls:
            raise SettingsError(f"webhook setting scopes names {url!r}, which is not one of the urls")
        if not isinstance(patterns, list | tuple) or not all(isinstance(item, str) for item in patterns):
            raise SettingsError(f"webhook setting scopes for {url!r} must be a list of identifier patterns")
        scopes[url] = tuple(patterns)
    return scopes


def _urls(raw: Any) -> tuple[str, ...]:
    # The environment carries a list as "https://a/hook, https://b/hook"; TOML as a real list.
    items = raw.split(",") if isinstance(raw, str) else raw
    if not isinstance(items, list | tuple):
        raise SettingsError(f"webhook setting urls must be a list of URLs, got {raw!r}")
    urls = tuple(str(item).strip() for item in items if str(item).strip())
    for url in urls:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise SettingsError(
                f"webhook setting urls: {url!r} is not an http:// or https:// URL with a host"
            )
    if len(set(urls)) != len(urls):
        raise SettingsError("webhook setting urls names the same URL twice")
    return urls


def _number(
    section: Mapping[str, Any], name: str, default: float, *, minimum: float, whole: bool = False
) -> float:
    raw = section.get(name, default)
    kind = "a whole number" if whole else "a number"
    try:
        if isinstance(raw, bool):  # TOML `true` is no number, though Python would say 1
            raise TypeError
        value = float(raw)
    except (TypeError, ValueError):
        raise SettingsError(f"webhook setting {name} must be {kind}, got {raw!r}") from None
    if not math.isfinite(value) or (whole and not value.is_integer()):
        raise SettingsError(f"webhook setting {name} must be {kind}, got {raw!r}")
    if value < minimum:
        raise SettingsError(f"webhook setting {name} must be at least {minimum:g}, got {raw!r}")
    return value


def display_url(url: str) -> str:
    """The URL without credentials or query string, for logs and `/ready` (both may hold secrets)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:  # an IPv6 address needs its brackets back
        host = f"[{host}]"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"

"""The plugin's settings: the `[autoregister]` table of the TOML file and the `TITAN_AUTOREGISTER_*`
variables, checked once at startup (a bad value stops the plugin with the setting's name, not the
first event)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar
from urllib.parse import urlsplit

from marshmallow import ValidationError

from titan_core.plugin_api import Flag, Number, SettingsError, SettingsSection, Text, Whole, setting


class WebAddress(Text):
    """Empty, or an http:// or https:// URL with a host (a trailing slash is dropped)."""

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> str:
        text = super()._deserialize(value, attr, data, **kwargs).rstrip("/")
        if not text:
            return ""
        parts = urlsplit(text)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValidationError(
                f"must be an http:// or https:// URL with a host, got {display_url(text)!r}"
            )
        if parts.query or parts.fragment:
            raise ValidationError(f"must be a base URL without query or fragment, got {display_url(text)!r}")
        return text


@dataclass(frozen=True)
class AutoregisterConfig(SettingsSection):
    section: ClassVar[str] = "autoregister"
    # Base URL of the AAS Registry and Submodel Registry (the paths /shell-descriptors and
    # /submodel-descriptors are appended: e.g. https://registry.example/api/v3.0). This instance's
    # own base URL works too. Empty: no registry.
    registry_url: str = setting("", WebAddress())
    # Register submodels in the Submodel Registry too (/submodel-descriptors at registry_url).
    submodel_registry: bool = setting(True, Flag())
    # Base URL of a Discovery service (/lookup/shells is appended). Empty: no discovery.
    discovery_url: str = setting("", WebAddress())
    # The URL clients reach this instance's Part 2 API at: every endpoint href starts with it, and
    # the reconciliation deletes only descriptors whose endpoints start with it. Empty: the core's
    # public_base_url.
    endpoint_base_url: str = setting("", WebAddress())
    # Credentials sent to the registry and the discovery: at most one kind.
    api_key: str = setting("", Text(secret=True))
    api_key_header: str = "X-API-Key"
    bearer_token: str = setting("", Text(secret=True))
    oauth2_token_url: str = setting("", WebAddress())
    oauth2_client_id: str = ""
    oauth2_client_secret: str = setting("", Text(secret=True))
    oauth2_scope: str = ""
    # Seconds one request (to the registry, the discovery or the token endpoint) may take.
    timeout: float = setting(10.0, Number(minimum=0.001))
    # Seconds before the full sync is tried again after a failure, doubled each time up to max_backoff.
    backoff: float = setting(0.5, Number(minimum=0.001))
    max_backoff: float = setting(30.0, Number(minimum=0.001))
    # Events per deliver call: each may cost a few requests, and a call must end within the core's
    # sink_timeout_ms.
    batch_size: int = setting(20, Whole(minimum=1, maximum=1000))

    @property
    def enabled(self) -> bool:
        return bool(self.registry_url or self.discovery_url)

    def check(self) -> None:
        oauth2 = {"oauth2_token_url": self.oauth2_token_url, "oauth2_client_id": self.oauth2_client_id,
                  "oauth2_client_secret": self.oauth2_client_secret}  # fmt: skip
        missing = [name for name, value in oauth2.items() if not value]
        if self.oauth2_scope and len(missing) == len(oauth2):
            raise SettingsError(
                "autoregister setting oauth2_scope needs OAuth2 client credentials: set oauth2_token_url, "
                "oauth2_client_id and oauth2_client_secret",
                setting="oauth2_scope",
            )
        if 0 < len(missing) < len(oauth2):
            raise SettingsError(
                f"autoregister OAuth2 client credentials need oauth2_token_url, oauth2_client_id and "
                f"oauth2_client_secret together; missing: {', '.join(missing)}",
                setting=missing[0],
            )
        kinds = [name for name, value in (("api_key", self.api_key), ("bearer_token", self.bearer_token),
                                          ("oauth2_token_url", self.oauth2_token_url)) if value]  # fmt: skip
        if len(kinds) > 1:
            raise SettingsError(
                f"autoregister credentials: set one of api_key, bearer_token or oauth2_*, not {' and '.join(kinds)}",
                setting=kinds[1],
            )
        if not self.api_key_header.strip() or any(c in self.api_key_header for c in " :\r\n"):
            raise SettingsError(
                f"autoregister setting api_key_header must be an HTTP header name, got {self.api_key_header!r}",
                setting="api_key_header",
            )
        if self.max_backoff < self.backoff:
            raise SettingsError(
                f"autoregister setting max_backoff ({self.max_backoff:g}) must be at least backoff "
                f"({self.backoff:g})",
                setting="max_backoff",
            )

    def base_url(self, public_base_url: str) -> str:
        """The base of every endpoint href: endpoint_base_url, else the core's public_base_url."""
        base = (self.endpoint_base_url or public_base_url).rstrip("/")
        if not base:
            raise SettingsError(
                "automatic registration needs the URL clients reach this instance at, for the "
                "descriptors' endpoints: set endpoint_base_url (TITAN_AUTOREGISTER_ENDPOINT_BASE_URL) or "
                "the core's public_base_url (TITAN_PUBLIC_BASE_URL)",
                setting="endpoint_base_url",
            )
        return base


def display_url(url: str) -> str:
    """The URL without credentials, query or fragment, for messages, logs and `/ready`."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:  # not a port number: the message shows the URL without it
        port = ""
    return f"{parts.scheme}://{host}{port}{parts.path}"

"""The plugin's settings: the `[registry]` table of the TOML file and the `TITAN_REGISTRY_*` variables.

Only automatic registration has settings; the two registry services need none (they are switched
with the core's setting `services`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar
from urllib.parse import urlsplit

from titan_core.plugin_api import Number, SettingsError, SettingsSection, Text, setting

SELF = "self"


def _web_address(value: str, name: str) -> None:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SettingsError(
            f"registry setting {name} must be an http:// or https:// URL with a host, got {value!r}",
            setting=name,
        )


@dataclass(frozen=True)
class SyncConfig(SettingsSection):
    """Automatic registration: keep a registry in step with this instance's shells and submodels."""

    section: ClassVar[str] = "registry"
    # Where to register: empty (off), "self" (this instance's own registry), or the base URL of a
    # remote AAS Registry and Submodel Registry (the paths /shell-descriptors and
    # /submodel-descriptors are appended to it, e.g. https://registry.example/api/v3.0).
    sync_to: str = ""
    # The URL clients reach this instance's Part 2 API at (API prefix included if they use one),
    # the base of every descriptor's endpoint; empty: the core's public_base_url.
    endpoint_base_url: str = ""
    # Credentials for a remote registry: at most one kind.
    api_key: str = setting("", Text(secret=True))
    api_key_header: str = "X-API-Key"
    bearer_token: str = setting("", Text(secret=True))
    oauth2_token_url: str = ""
    oauth2_client_id: str = ""
    oauth2_client_secret: str = setting("", Text(secret=True))
    oauth2_scope: str = ""
    # Seconds one request to the remote registry (or its token endpoint) may take.
    timeout: float = setting(10.0, Number(minimum=0.001))

    @property
    def enabled(self) -> bool:
        return bool(self.sync_to)

    @property
    def remote(self) -> bool:
        return self.enabled and self.sync_to != SELF

    def check(self) -> None:
        if self.remote:
            _web_address(self.sync_to, "sync_to")
        if self.endpoint_base_url:
            _web_address(self.endpoint_base_url, "endpoint_base_url")
        oauth2 = (self.oauth2_token_url, self.oauth2_client_id, self.oauth2_client_secret)
        if any(oauth2) and not all(oauth2):
            raise SettingsError(
                "registry OAuth2 client credentials need oauth2_token_url, oauth2_client_id and "
                "oauth2_client_secret together",
                setting="oauth2_token_url",
            )
        if self.oauth2_token_url:
            _web_address(self.oauth2_token_url, "oauth2_token_url")
        kinds = [name for name, value in (("api_key", self.api_key), ("bearer_token", self.bearer_token),
                                          ("oauth2", self.oauth2_token_url)) if value]  # fmt: skip
        if len(kinds) > 1:
            raise SettingsError(
                f"registry credentials: set one of api_key, bearer_token or oauth2_*, not {' and '.join(kinds)}",
                setting=kinds[1] if kinds[1] != "oauth2" else "oauth2_token_url",
            )
        if kinds and not self.remote:
            raise SettingsError(
                "registry credentials are for a remote registry: set sync_to to its URL", setting="sync_to"
            )

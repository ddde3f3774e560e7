"""Typed settings: CLI flags > `TITAN_*` environment > TOML file (`TITAN_CONFIG`) > defaults.

Plugins read their own table of the TOML file (`[ws]`, `[mqtt]`, …) and their own `TITAN_<NAME>_*`
variables through `Settings.section()`, so the core never needs to know their options.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///titan.sqlite3"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


class SettingsError(ValueError):
    """A setting has a value Titan cannot use; the message names the setting and what it accepts."""


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8080
    database_url: str = DEFAULT_DATABASE_URL
    # The API is served at the root and, as an alias, under this prefix ("" switches it off).
    api_prefix: str = "/api/v3.0"
    # Largest request body accepted (413 above it). Attachments count too.
    max_body_bytes: int = 16 * 1024 * 1024
    default_page_limit: int = 100
    max_page_limit: int = 10_000
    # Deepest idShortPath accepted (segments), and deepest JSON nesting accepted in a body.
    max_path_depth: int = 64
    log_level: str = "INFO"
    # Whether `titan serve` applies pending database migrations at start.
    migrate_on_start: bool = True
    # Plugins (entry-point group `titan`): the names to load (empty: every installed plugin), the
    # names never to load, and whether a plugin in trouble stops the server (see docs/plugins.md).
    plugins: tuple[str, ...] = ()
    disable_plugins: tuple[str, ...] = ()
    require_plugins: bool = False
    # Eventing (docs/events.md). The bus: "memory" (one instance) or a redis:// URL (Redis Streams),
    # with its Redis key prefix. How many newest events /events and resume keep, and the most a
    # lagging sink may hold back from trimming (beyond it, the loss is logged and counted).
    bus: str = "memory"
    bus_prefix: str = "titan:"
    event_retention: int = 10_000
    event_backlog_limit: int = 1_000_000
    # The relay: rows per publish, how often it looks for rows other processes wrote, how long its
    # lease lasts; `relay_paused` stops publishing (rows wait in the outbox; tests, maintenance).
    relay_batch_size: int = 500
    relay_poll_ms: int = 250
    relay_lease_ms: int = 10_000
    relay_paused: bool = False
    # Sinks: events per `deliver` call, its timeout, the longest pause between retries, and (Redis,
    # `once` sinks) how long a dead instance keeps a sink before another instance takes it over.
    sink_batch_size: int = 100
    sink_timeout_ms: int = 10_000
    sink_retry_max_ms: int = 30_000
    sink_lease_ms: int = 10_000
    # The longest `wait` of GET /events, in seconds.
    events_max_wait: int = 60
    # Whether event envelopes carry `titansubject`, who made the change (docs/events.md). Off by
    # default: a subject can be personal data. The outbox records it either way.
    events_include_subject: bool = False
    # Event profiles (docs/events.md, titan_core/delivery/profiles.py). The async-aas profile's `source`
    # is an absolute URL: this public base URL (what clients reach Titan at, API prefix included if
    # they use one; empty: http://{host}:{port}) plus the REST path. Slim async-aas events carry no
    # `data`.
    public_base_url: str = ""
    async_aas_slim: bool = False
    # WebSocket clients (titan-aas-ws, docs/events.md): the largest message a client may send
    # (bigger: closed with 1009), and how many it may send per second on average, in bursts of up to
    # `ws_message_burst` (more: closed with 4429).
    ws_max_message_bytes: int = 65_536
    ws_messages_per_second: int = 20
    ws_message_burst: int = 60
    # Access control (docs/security.md). Off by default, which `titan serve` allows only on a
    # loopback address unless `insecure_no_auth` says otherwise. Callers without a credential get
    # `auth_anonymous_roles` (none: 401). API keys are `sha256:<hex>;subject=…;role=…;scope=…`
    # entries (`titan keys new` prints one). JWT bearer tokens: an HS256 secret, a PEM public key
    # file, or a JWKS URL; audience and issuer are required; the claims holding subject, roles and
    # scopes are configurable.
    auth_enabled: bool = False
    insecure_no_auth: bool = False
    auth_anonymous_roles: tuple[str, ...] = ()
    api_keys: tuple[str, ...] = ()
    jwt_secret: str = ""
    jwt_public_key_file: str = ""
    jwt_jwks_url: str = ""
    jwt_jwks_cache_seconds: int = 300
    jwt_algorithms: tuple[str, ...] = ()
    jwt_issuer: str = ""
    jwt_audience: str = ""
    jwt_leeway_seconds: int = 30
    jwt_subject_claim: str = "sub"
    jwt_roles_claim: str = "roles"
    jwt_scopes_claim: str = "titan_scopes"
    # Refuse tokens without the scopes claim (absent otherwise means unrestricted; an empty one
    # always grants nothing).
    jwt_scopes_required: bool = False
    # Browsers (docs/security.md, "Browsers"): the Host names this server answers (empty: with
    # authentication off the loopback names, plus IP addresses when bound to a non-loopback
    # address; with it on, any), and the origins of other sites whose pages may send changes and
    # open the WebSocket (besides the server's own origin and `cors_allowed_origins`).
    allowed_hosts: tuple[str, ...] = ()
    allowed_origins: tuple[str, ...] = ()
    # Limits: deepest JSON nesting in a request body (400 beyond), seconds a client may take to send
    # a request body (408 beyond), and seconds an idle or slowly-talking connection is kept open.
    max_json_depth: int = 256
    body_timeout: int = 60
    keepalive_timeout: int = 75
    # Browsers on other origins (dashboards): CORS is off while `cors_allowed_origins` is empty
    # ("*" allows any origin, never together with credentials).
    cors_allowed_origins: tuple[str, ...] = ()
    cors_allowed_methods: tuple[str, ...] = ("GET", "POST", "PUT", "PATCH", "DELETE")
    cors_allowed_headers: tuple[str, ...] = ("Authorization", "Content-Type", "If-Match", "X-API-Key")
    cors_exposed_headers: tuple[str, ...] = ("ETag", "Location", "X-Titan-Seq")
    cors_allow_credentials: bool = False
    cors_max_age: int = 600
    # Security headers on every answer; HSTS only when a max-age is set (behind TLS).
    security_headers: bool = True
    hsts_max_age: int = 0
    # Monitoring (docs/operations.md): `GET /metrics` in the Prometheus text format, and the HTTP
    # request counting behind it. With auth on, /metrics needs a reader credential.
    metrics_enabled: bool = True
    # Safe import of AASX packages and XML (titan load, /packages; docs/configuration.md): the most
    # bytes a package may unpack to, its most entries, the highest compression ratio of an entry over
    # 1 MiB (a zip bomb's is over 1,000), and the deepest XML element nesting.
    import_max_uncompressed_bytes: int = 2048 * 1024 * 1024
    import_max_parts: int = 10_000
    import_max_compression_ratio: int = 200
    import_max_xml_depth: int = 200
    # Raw settings of the TOML file and environment, for plugin sections.
    extra: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def section(self, name: str) -> dict[str, Any]:
        """A plugin's settings: its TOML table `[name]` overlaid with `TITAN_<NAME>_*` variables."""
        values: dict[str, Any] = dict(self.extra.get(name, {}) or {})
        prefix = f"TITAN_{name.upper()}_"
        for key, raw in os.environ.items():
            if key.startswith(prefix):
                values[key[len(prefix) :].lower()] = raw
        return values

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)


_FIELD_TYPES = {f.name: f.type for f in fields(Settings) if f.name != "extra"}


def _coerce(name: str, raw: Any) -> Any:
    kind = _FIELD_TYPES[name]
    if kind == "int":
        if isinstance(raw, bool):
            raise SettingsError(f"setting {name!r} must be a whole number, got {raw!r}")
        try:
            return int(raw)
        except (TypeError, ValueError):
            raise SettingsError(f"setting {name!r} must be a whole number, got {raw!r}") from None
    if kind == "bool":
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in {"1", "true", "yes", "on"}:
            return True
        if text in {"0", "false", "no", "off"}:
            return False
        raise SettingsError(f"setting {name!r} must be true or false, got {raw!r}")
    if kind == "tuple[str, ...]":
        # A TOML list, or a comma-separated string as environment variables carry it.
        items = raw.split(",") if isinstance(raw, str) else raw
        if not isinstance(items, list | tuple):
            raise SettingsError(f"setting {name!r} must be a list of names or a comma-separated string")
        return tuple(str(item).strip() for item in items if str(item).strip())
    return str(raw)


def load_settings(
    overrides: Mapping[str, Any] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Build the settings from (in rising priority) defaults, the TOML file, environment, overrides.

    `overrides` are the CLI flags that were given (None values are ignored).
    """
    env = os.environ if environ is None else environ
    file_values: dict[str, Any] = {}
    config_path = env.get("TITAN_CONFIG")
    if config_path:
        path = Path(config_path)
        try:
            file_values = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise SettingsError(f"TITAN_CONFIG points to {path}, which does not exist") from None
        except tomllib.TOMLDecodeError as exc:
            raise SettingsError(f"TITAN_CONFIG file {path} is not valid TOML: {exc}") from None

    values: dict[str, Any] = {}
    core_table = file_values.get("core", file_values)
    for name in _FIELD_TYPES:
        if name in core_table and not isinstance(core_table[name], dict):
            values[name] = _coerce(name, core_table[name])
        env_value = env.get(f"TITAN_{name.upper()}")
        if env_value is not None:
            values[name] = _coerce(name, env_value)
        if overrides and overrides.get(name) is not None:
            values[name] = _coerce(name, overrides[name])

    prefix = values.get("api_prefix", Settings.api_prefix)
    if prefix and (not prefix.startswith("/") or prefix.endswith("/")):
        raise SettingsError(
            f"setting 'api_prefix' must start with '/' and not end with '/' (or be empty), got {prefix!r}"
        )
    for positive in ("port", "max_body_bytes", "default_page_limit", "max_page_limit", "max_path_depth",
                     "event_retention", "event_backlog_limit", "relay_batch_size", "relay_poll_ms",
                     "relay_lease_ms", "sink_batch_size", "sink_timeout_ms", "sink_retry_max_ms",
                     "sink_lease_ms", "ws_max_message_bytes", "ws_messages_per_second",
                     "ws_message_burst", "import_max_uncompressed_bytes", "import_max_parts",
                     "import_max_compression_ratio", "import_max_xml_depth"):  # fmt: skip
        if positive in values and values[positive] <= 0:
            raise SettingsError(f"setting {positive!r} must be positive, got {values[positive]}")
    raw_level = values.get("log_level", Settings.log_level)
    level = str(raw_level).strip().upper()
    if level not in LOG_LEVELS:
        raise SettingsError(f"setting 'log_level' must be one of {', '.join(LOG_LEVELS)}, got {raw_level!r}")
    values["log_level"] = level
    bus = values.get("bus", Settings.bus)
    if bus != "memory" and not bus.startswith(("redis://", "rediss://", "unix://")):
        raise SettingsError(
            f"setting 'bus' must be 'memory' or a Redis URL (redis://HOST:PORT/DB, rediss://…), got {bus!r}"
        )
    return Settings(**values, extra=file_values)

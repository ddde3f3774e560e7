"""The core's settings: CLI flags > `TITAN_*` environment > TOML file (`TITAN_CONFIG`) > defaults.

`Settings` is the core's section (sections.py checks it like any plugin's). Plugins read their own
table of the TOML file (`[ws]`, `[mqtt]`, …) and their own `TITAN_<NAME>_*` variables with
`load_section(settings, name, TheirConfig)`, so the core never needs to know their options.
"""

from __future__ import annotations

import dataclasses
import os
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from marshmallow import ValidationError

from titan_core.event_loop import EVENT_LOOPS
from titan_core.settings.errors import SettingDeprecationWarning
from titan_core.settings.fields import Choice, Text, Whole
from titan_core.settings.sections import INTERNAL, parse_section, setting
from titan_core.settings.sources import Origin, core_table, read_config_file

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///titan.sqlite3"
# PostgreSQL connections per pool (titan_core/store/database.py holds the reasons).
DEFAULT_POOL_SIZE = 10
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
# Settings that moved to a plugin's section: old core key -> (section, new key). The old keys keep
# working until 0.2 with a SettingDeprecationWarning; their variables (TITAN_WS_…) never changed.
MOVED = {
    "ws_max_message_bytes": ("ws", "max_message_bytes"),
    "ws_messages_per_second": ("ws", "messages_per_second"),
    "ws_message_burst": ("ws", "message_burst"),
}


def _positive() -> Whole:
    return Whole(minimum=1)


def _api_prefix(prefix: str) -> None:
    if prefix and (not prefix.startswith("/") or prefix.endswith("/")):
        raise ValidationError(f"must start with '/' and not end with '/' (or be empty), got {prefix!r}")


def _bus_url(bus: str) -> None:
    if bus != "memory" and not bus.startswith(("redis://", "rediss://", "unix://")):
        raise ValidationError(
            f"must be 'memory' or a Redis URL (redis://HOST:PORT/DB, rediss://…), got {bus!r}"
        )


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = setting(8080, Whole(minimum=1, maximum=65535))
    database_url: str = DEFAULT_DATABASE_URL
    # PostgreSQL connections kept open per engine: the transactions' pool (plus up to 10 for a
    # burst) and the direct reads' pool each hold up to this many. About the requests an instance
    # serves at once; mind PostgreSQL's max_connections across instances (docs/operations.md).
    database_pool_size: int = setting(DEFAULT_POOL_SIZE, Whole(minimum=1, maximum=1000))
    # The API is served at the root and, as an alias, under this prefix ("" switches it off).
    api_prefix: str = setting("/api/v3.0", Text(validate=_api_prefix))
    # Largest request body accepted (413 above it). Attachments count too.
    max_body_bytes: int = setting(16 * 1024 * 1024, _positive())
    default_page_limit: int = setting(100, _positive())
    max_page_limit: int = setting(10_000, _positive())
    # Deepest idShortPath accepted (segments), and deepest JSON nesting accepted in a body.
    max_path_depth: int = setting(64, _positive())
    log_level: str = setting("INFO", Choice(dict(zip(LOG_LEVELS, LOG_LEVELS, strict=True)), fold=str.upper,
                                            accepted=f"one of {', '.join(LOG_LEVELS)}"))  # fmt: skip
    # Whether `titan serve` applies pending database migrations at start.
    migrate_on_start: bool = True
    # Worker processes of `titan serve`, all on host:port (Linux; the parent hands them the
    # connections); more than 1 needs a Redis bus and PostgreSQL, as several instances do
    # (docs/operations.md, "Workers").
    workers: int = setting(1, _positive())
    # Seconds a stop of `titan serve` (SIGTERM, SIGINT) may take: requests in flight get the first
    # half to finish (then they are cancelled), the shutdown (sinks, relay, pools) the rest; the
    # parent of workers kills those still running after all of it. Keep it within the platform's own
    # limit (Kubernetes' terminationGracePeriodSeconds, 30 by default; systemd's TimeoutStopSec).
    stop_timeout: int = setting(30, Whole(minimum=2, maximum=3600))
    # The event loop `titan serve` runs on: "uvloop" (libuv; 15-18% more small requests per second
    # at 16 clients), "asyncio" (the standard library's), or "auto": uvloop where installed (it is a
    # dependency on Linux and macOS), else asyncio. titan_core/event_loop.py.
    event_loop: str = setting("auto", Choice(dict(zip(EVENT_LOOPS, EVENT_LOOPS, strict=True)),
                                             accepted=f"one of {', '.join(EVENT_LOOPS)}"))  # fmt: skip
    # Plugins (entry-point group `titan`): the names to load (empty: every installed plugin), the
    # names never to load, and whether a plugin in trouble stops the server (see docs/plugins.md).
    plugins: tuple[str, ...] = ()
    disable_plugins: tuple[str, ...] = ()
    require_plugins: bool = False
    # The services (route groups) this instance serves: "repository" (the Part 2 repository routes)
    # and those plugins declare (`titan_services`); empty: all of them (docs/plugins.md).
    services: tuple[str, ...] = ()
    # Eventing (docs/events.md). The bus: "memory" (one instance) or a redis:// URL (Redis Streams),
    # with its Redis key prefix. How many newest events /events and resume keep, and the most a
    # lagging sink may hold back from trimming (beyond it, the loss is logged and counted).
    bus: str = setting("memory", Text(validate=_bus_url))
    bus_prefix: str = "titan:"
    event_retention: int = setting(10_000, _positive())
    event_backlog_limit: int = setting(1_000_000, _positive())
    # The relay: rows per publish, how often it looks for rows other processes wrote, how long its
    # lease lasts; `relay_paused` stops publishing (rows wait in the outbox; tests, maintenance).
    relay_batch_size: int = setting(500, _positive())
    relay_poll_ms: int = setting(250, _positive())
    relay_lease_ms: int = setting(10_000, _positive())
    relay_paused: bool = False
    # Sinks: events per `deliver` call, its timeout, the longest pause between retries, and (Redis,
    # `once` sinks) how long a dead instance keeps a sink before another instance takes it over.
    sink_batch_size: int = setting(100, _positive())
    sink_timeout_ms: int = setting(10_000, _positive())
    sink_retry_max_ms: int = setting(30_000, _positive())
    sink_lease_ms: int = setting(10_000, _positive())
    # The longest `wait` of GET /events, in seconds.
    events_max_wait: int = setting(60, Whole(minimum=0))
    # Whether event envelopes carry `titansubject`, who made the change (docs/events.md). Off by
    # default: a subject can be personal data. The outbox records it either way.
    events_include_subject: bool = False
    # Event profiles (docs/events.md, titan_core/delivery/profiles.py). The async-aas profile's `source`
    # is an absolute URL: this public base URL (what clients reach Titan at, API prefix included if
    # they use one; empty: http://{host}:{port}) plus the REST path. Slim async-aas events carry no
    # `data`.
    public_base_url: str = ""
    async_aas_slim: bool = False
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
    jwt_secret: str = setting("", Text(secret=True))
    jwt_public_key_file: str = ""
    jwt_jwks_url: str = ""
    jwt_jwks_cache_seconds: int = setting(300, Whole(minimum=0))
    jwt_algorithms: tuple[str, ...] = ()
    jwt_issuer: str = ""
    jwt_audience: str = ""
    jwt_leeway_seconds: int = setting(30, Whole(minimum=0))
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
    max_json_depth: int = setting(256, _positive())
    body_timeout: int = setting(60, _positive())
    keepalive_timeout: int = setting(75, _positive())
    # Browsers on other origins (dashboards): CORS is off while `cors_allowed_origins` is empty
    # ("*" allows any origin, never together with credentials).
    cors_allowed_origins: tuple[str, ...] = ()
    cors_allowed_methods: tuple[str, ...] = ("GET", "POST", "PUT", "PATCH", "DELETE")
    cors_allowed_headers: tuple[str, ...] = ("Authorization", "Content-Type", "If-Match", "X-API-Key")
    cors_exposed_headers: tuple[str, ...] = ("ETag", "Location", "X-Titan-Seq")
    cors_allow_credentials: bool = False
    cors_max_age: int = setting(600, Whole(minimum=0))
    # Security headers on every answer; HSTS only when a max-age is set (behind TLS).
    security_headers: bool = True
    hsts_max_age: int = setting(0, Whole(minimum=0))
    # Monitoring (docs/operations.md): `GET /metrics` in the Prometheus text format, and the HTTP
    # request counting behind it. With auth on, /metrics needs a reader credential.
    metrics_enabled: bool = True
    # Safe import of AASX packages and XML (titan load, /packages; docs/configuration.md): the most
    # bytes a package may unpack to, its most entries, the highest compression ratio of an entry over
    # 1 MiB (a zip bomb's is over 1,000), and the deepest XML element nesting.
    import_max_uncompressed_bytes: int = setting(2048 * 1024 * 1024, _positive())
    import_max_parts: int = setting(10_000, _positive())
    import_max_compression_ratio: int = setting(200, _positive())
    import_max_xml_depth: int = setting(200, _positive())
    # Plugin sections: the tables of the TOML file (`[mqtt]`, …), where the file is (for messages), and
    # the environment the `TITAN_<NAME>_*` variables come from (None: the process's, when read).
    extra: Mapping[str, Any] = field(
        default_factory=dict, compare=False, repr=False, metadata={INTERNAL: True}
    )
    config_file: str = field(default="", compare=False, repr=False, metadata={INTERNAL: True})
    environ: Mapping[str, str] | None = field(
        default=None, compare=False, repr=False, metadata={INTERNAL: True}
    )

    def section(self, name: str) -> dict[str, Any]:
        """A plugin's raw settings: its TOML table `[name]` overlaid with `TITAN_<NAME>_*` variables."""
        return self.section_with_origins(name)[0]

    def section_with_origins(self, name: str) -> tuple[dict[str, Any], dict[str, str]]:
        """The raw settings of `[name]` and, for each, where it came from (for messages)."""
        table = self.extra.get(name) or {}
        values: dict[str, Any] = dict(table)
        origins = dict.fromkeys(table, Origin.file(self.config_file, name))
        prefix = f"TITAN_{name.upper()}_"
        for key, raw in (os.environ if self.environ is None else self.environ).items():
            if key.startswith(prefix):
                values[key[len(prefix) :].lower()] = raw
                origins[key[len(prefix) :].lower()] = key
        return values, origins

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)


def load_settings(
    overrides: Mapping[str, Any] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Build the settings from (in rising priority) defaults, the TOML file, environment, overrides.

    `overrides` are the CLI flags that were given (None values are ignored).
    """
    env = os.environ if environ is None else environ
    path, document = read_config_file(env)
    values, origins = core_table(document, path)
    sections = {name: dict(table) for name, table in document.items() if isinstance(table, dict)}
    sections.pop("core", None)
    for old in [key for key in values if key in MOVED]:
        section, new = MOVED[old]
        warnings.warn(
            f"setting {old!r} ({origins[old]}) is now {new!r} in the [{section}] table "
            f"(TITAN_{section.upper()}_{new.upper()}); the old name stops working in Titan 0.2",
            SettingDeprecationWarning,
            stacklevel=2,
        )
        sections.setdefault(section, {}).setdefault(new, values.pop(old))
    for name in setting_names():
        variable = f"TITAN_{name.upper()}"
        if variable in env:
            values[name], origins[name] = env[variable], variable
        if overrides and overrides.get(name) is not None:
            values[name], origins[name] = overrides[name], Origin.flag(name)
    core: Settings = parse_section(Settings, values, origins=origins)
    return core.replace(extra=sections, config_file=path, environ=environ)


def setting_names() -> list[str]:
    """The core's settings, in declaration order."""
    return [item.name for item in dataclasses.fields(Settings) if not item.metadata.get(INTERNAL)]

"""The declared plugin API: everything a plugin may import from the core, in one place.

A plugin imports `titan_core.plugin_api` and nothing else of `titan_core` (its tests may also use
`titan_core.testing`); every other core module is internal and changes without notice. The names
below follow the compatibility policy of `API_VERSION` (docs/plugins.md, "Compatibility"), and an
import-linter contract (pyproject.toml) holds the first-party plugins to this surface. This module
only re-exports: the code lives where the core keeps it.
"""

from __future__ import annotations

from typing import Any

from titan_core import __version__ as TITAN_VERSION
from titan_core.api.browser_guard import BROWSER_POLICY
from titan_core.api.params import json_body, paging
from titan_core.api.responses import json_response, paged
from titan_core.auth import (
    ALL_ROLES,
    ANONYMOUS,
    ROLE_ADMIN,
    ROLE_READER,
    ROLE_WRITER,
    Principal,
    authorize_read,
    authorize_write,
    may_read,
    public,
    requires_role,
)
from titan_core.delivery.bus import BusUnavailable, HistoryExpired
from titan_core.delivery.filters import EventFilter, parse_filter_json, parse_filter_query
from titan_core.delivery.profiles import (
    AsyncAasOptions,
    BasyxOptions,
    ProfileError,
    async_aas_envelope,
    basyx_message,
    dump_json,
    parse_profiles,
)
from titan_core.delivery.reader import EventPage, EventReader
from titan_core.delivery.sink import BatchingSink, Event, EventSink, Fanout, SignallingSink
from titan_core.delivery.stored_elements import StoredElements
from titan_core.errors import BadRequest, Conflict, Forbidden, NotFound, PreconditionFailed, TitanError
from titan_core.eventtypes.change import Change, ChangeType
from titan_core.eventtypes.envelope import short_type
from titan_core.eventtypes.kinds import EntityKind, entity_names, plugin_entity_kinds
from titan_core.health import HealthReport
from titan_core.hookspecs import hookimpl
from titan_core.keys import REPOSITORY, SETTINGS
from titan_core.logsafe import loggable
from titan_core.model.elements import find_element, iter_elements
from titan_core.model.identifiers import decode_identifier, encode_identifier
from titan_core.model.paths import IdShortPath, format_id_short_path, parse_id_short_path
from titan_core.plugin_access import authenticate, event_reader, principal_of, stored_elements
from titan_core.plugin_compat import (
    API_VERSION,
    REQUIREMENT_ATTRIBUTE,
    Deprecation,
    PluginApiDeprecationWarning,
)
from titan_core.services import REPOSITORY_SERVICE, Service, serves
from titan_core.settings import (
    Choice,
    Flag,
    Names,
    Number,
    SectionSchema,
    SettingDeprecationWarning,
    SettingField,
    Settings,
    SettingsError,
    SettingsSection,
    Text,
    Whole,
    load_section,
    parse_section,
    schema_for,
    setting,
)
from titan_core.store.identifiable_store import decode_cursor, encode_cursor
from titan_core.store.migration_sources import MigrationSource
from titan_core.store.plugin_transaction import PluginTransaction
from titan_core.store.preconditions import check_precondition, etag_matches
from titan_core.store.records import Page, StoredDocument
from titan_core.store.repository import Repository
from titan_core.workers import worker_index

__all__ = [  # noqa: RUF022 - grouped by topic for readers, not sorted
    # Version and compatibility.
    "API_VERSION",
    "REQUIREMENT_ATTRIBUTE",
    "TITAN_VERSION",
    "PluginApiDeprecationWarning",
    # Hooks and settings: the core's settings, a plugin's own section and the fields that check it.
    "Settings",
    "SettingsError",
    "SettingDeprecationWarning",
    "SettingsSection",
    "SectionSchema",
    "setting",
    "load_section",
    "parse_section",
    "schema_for",
    "SettingField",
    "Flag",
    "Whole",
    "Number",
    "Text",
    "Names",
    "Choice",
    "hookimpl",
    # The application: typed keys a plugin may read, and the services behind them.
    "BROWSER_POLICY",
    "REPOSITORY",
    "SETTINGS",
    "Repository",
    "authenticate",
    "event_reader",
    "principal_of",
    "stored_elements",
    "HealthReport",
    "worker_index",
    # Services: a plugin's own tables, work in the write transaction, its event kinds, route groups.
    "MigrationSource",
    "Page",
    "PluginTransaction",
    "Change",
    "ChangeType",
    "EntityKind",
    "entity_names",
    "plugin_entity_kinds",
    "Service",
    "REPOSITORY_SERVICE",
    "serves",
    # Paged results and ETags as the core's Part 2 routes answer them.
    "paging",
    "paged",
    "encode_cursor",
    "decode_cursor",
    "json_body",
    "json_response",
    "etag_matches",
    "check_precondition",
    # Callers and what they may do.
    "ALL_ROLES",
    "ANONYMOUS",
    "ROLE_ADMIN",
    "ROLE_READER",
    "ROLE_WRITER",
    "Principal",
    "authorize_read",
    "authorize_write",
    "may_read",
    "public",
    "requires_role",
    # Errors a plugin raises (each answers with its HTTP status and the IDTA error body).
    "BadRequest",
    "Conflict",
    "Forbidden",
    "NotFound",
    "PreconditionFailed",
    "TitanError",
    # Delivery: the sink contract and its optional capabilities.
    "BatchingSink",
    "Event",
    "EventSink",
    "Fanout",
    "SignallingSink",
    # The read side: history, filters, following.
    "BusUnavailable",
    "EventFilter",
    "EventPage",
    "EventReader",
    "HistoryExpired",
    "parse_filter_json",
    "parse_filter_query",
    "short_type",
    # Event profiles (the async-aas and BaSyx forms of an event).
    "AsyncAasOptions",
    "BasyxOptions",
    "ProfileError",
    "StoredDocument",
    "StoredElements",
    "async_aas_envelope",
    "basyx_message",
    "dump_json",
    "parse_profiles",
    # The AAS model: identifiers, idShortPaths, elements.
    "IdShortPath",
    "decode_identifier",
    "encode_identifier",
    "find_element",
    "format_id_short_path",
    "iter_elements",
    "parse_id_short_path",
    # Logging values that came from outside.
    "loggable",
]

# Names replaced in a minor release, kept one minor release more with a warning (none in 1.0).
DEPRECATED: dict[str, Deprecation] = {}


def __getattr__(name: str) -> Any:
    deprecation = DEPRECATED.get(name)
    if deprecation is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return deprecation.warn(name)

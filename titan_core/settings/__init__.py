"""Settings of the core and of every plugin: one mechanism (marshmallow schemas), one loader.

Sources, in rising priority: defaults, the TOML file named by `TITAN_CONFIG`, `TITAN_*` variables,
`titan serve` flags. docs/configuration.md lists every core setting.
"""

from titan_core.settings.core import DEFAULT_DATABASE_URL, LOG_LEVELS, MOVED, Settings, load_settings
from titan_core.settings.errors import SettingDeprecationWarning, SettingsError
from titan_core.settings.fields import Choice, Flag, Names, Number, SettingField, Text, Whole
from titan_core.settings.sections import (
    SectionSchema,
    SettingsSection,
    load_section,
    parse_section,
    schema_for,
    setting,
)

__all__ = [
    "DEFAULT_DATABASE_URL",
    "LOG_LEVELS",
    "MOVED",
    "Choice",
    "Flag",
    "Names",
    "Number",
    "SectionSchema",
    "SettingDeprecationWarning",
    "SettingField",
    "Settings",
    "SettingsError",
    "SettingsSection",
    "Text",
    "Whole",
    "load_section",
    "load_settings",
    "parse_section",
    "schema_for",
    "setting",
]

"""One settings mechanism for the core and every plugin: a dataclass per section, its marshmallow schema.

A section (the core's settings, a plugin's `[mqtt]` table) is a frozen dataclass whose fields carry
their defaults and, where the type alone does not say enough, the marshmallow field that checks
them (`setting(8080, Whole(minimum=1, maximum=65535))`). `schema_for` builds the section's schema
from it (`unknown = RAISE`: a misspelt key stops Titan); `parse_section` loads raw values into the
dataclass and turns marshmallow's errors into one `SettingsError` that names each setting, says what
it accepts, what it got and where that came from (a `TITAN_*` variable, the TOML file, a flag).
"""

from __future__ import annotations

import dataclasses
import difflib
import typing
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, Self, TypeVar, overload

from marshmallow import RAISE, Schema, ValidationError, fields, post_load

from titan_core.settings.errors import SettingsError
from titan_core.settings.fields import Flag, Names, Number, Text, Whole

if TYPE_CHECKING:
    from titan_core.settings.core import Settings

T = TypeVar("T")
C = TypeVar("C")
FIELD = "titan.settings.field"  # the dataclass field's metadata key for its marshmallow field
INTERNAL = "titan.settings.internal"  # metadata of dataclass fields that are no settings (Settings.extra)

# The field a setting gets from its type when it names none of its own.
_BY_TYPE: dict[Any, Callable[[], fields.Field[Any]]] = {
    bool: Flag,
    int: Whole,
    float: Number,
    str: Text,
    tuple[str, ...]: Names,
}


@overload
def setting(default: T, field: fields.Field[Any]) -> T: ...
@overload
def setting(*, factory: Callable[[], T], field: fields.Field[Any]) -> T: ...
def setting(
    default: Any = dataclasses.MISSING, field: Any = None, *, factory: Any = dataclasses.MISSING
) -> Any:
    """A dataclass field whose value `field` checks: `port: int = setting(8080, Whole(minimum=1))`."""
    metadata = {FIELD: field}
    if factory is not dataclasses.MISSING:
        return dataclasses.field(default_factory=factory, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


class Checked(Protocol):
    def check(self) -> None:
        """Raise `SettingsError` (naming `setting=`) when settings do not go together."""


class SettingsSection:
    """Base of a plugin's settings dataclass: `section` names its table and `TITAN_<SECTION>_*` prefix.

    `@dataclass(frozen=True) class MqttConfig(SettingsSection): section = "mqtt"` and its fields; a
    `check(self)` method, when defined, runs after the fields are parsed.
    """

    section: ClassVar[str]

    @classmethod
    def from_settings(cls, settings: Settings) -> Self:
        """Parse and check the section of `settings`; `SettingsError` names the setting at fault."""
        return load_section(settings, cls.section, cls)

    @classmethod
    def from_section(cls, raw: Mapping[str, Any]) -> Self:
        """Parse and check a raw section (TOML values, variable texts), as unit tests hand it over."""
        return parse_section(cls, raw, section=cls.section)


class SectionSchema(Schema):
    """Base of every section's schema: unknown keys are refused, a load returns the dataclass."""

    config_class: ClassVar[type[Any]]

    class Meta:
        unknown = RAISE

    @post_load
    def build(self, data: dict[str, Any], **kwargs: Any) -> Any:
        return self.config_class(**data)


def schema_for(config_class: type[Any]) -> type[SectionSchema]:
    """The marshmallow schema of a section dataclass: one field per setting, unknown keys refused."""
    if config_class not in _SCHEMAS:
        _SCHEMAS[config_class] = _build_schema(config_class)
    return _SCHEMAS[config_class]


_SCHEMAS: dict[type[Any], type[SectionSchema]] = {}


def _build_schema(config_class: type[Any]) -> type[SectionSchema]:
    hints = typing.get_type_hints(config_class)
    declared: dict[str, Any] = {"config_class": config_class}
    for item in dataclasses.fields(config_class):
        if item.metadata.get(INTERNAL):
            continue
        field = item.metadata.get(FIELD)
        if field is None:
            if hints[item.name] not in _BY_TYPE:
                raise TypeError(f"{config_class.__name__}.{item.name}: give its type's field with setting()")
            field = _BY_TYPE[hints[item.name]]()
        declared[item.name] = field
    return type(f"{config_class.__name__}Schema", (SectionSchema,), declared)


def setting_names(config_class: type[Any]) -> list[str]:
    """The settings of a section, in declaration order."""
    return list(schema_for(config_class)._declared_fields)


def parse_section(
    config_class: type[C],
    raw: Mapping[str, Any],
    *,
    section: str = "",
    origins: Mapping[str, str] | None = None,
) -> C:
    """Load `raw` (TOML values, variable texts) into `config_class`; `SettingsError` says what is wrong.

    `section` is the plugin's name ("" for the core); `origins` maps a key to where its value came
    from (`TITAN_MQTT_QOS`, `--port`, `in titan.toml [mqtt]`).
    """
    where = _Origins(section, origins or {})
    try:
        config: C = schema_for(config_class)().load(dict(raw))
    except ValidationError as error:
        raise SettingsError(_explain(error.messages_dict, config_class, where)) from None
    if hasattr(config, "check"):
        try:
            typing.cast(Checked, config).check()
        except SettingsError as error:
            if error.setting is None or error.setting not in (origins or {}):
                raise
            raise SettingsError(f"{error} ({where.of(error.setting)})", setting=error.setting) from None
    return config


def load_section(settings: Settings, section: str, config_class: type[C]) -> C:
    """A plugin's settings: its TOML table `[section]` overlaid with its `TITAN_<SECTION>_*` variables."""
    values, origins = settings.section_with_origins(section)
    return parse_section(config_class, values, section=section, origins=origins)


class _Origins:
    """Names a setting as the messages do, and says where its value came from."""

    def __init__(self, section: str, origins: Mapping[str, str]) -> None:
        self.section = section
        self.origins = origins

    def label(self, key: str) -> str:
        return f"{self.section} setting {key}" if self.section else f"setting {key!r}"

    def of(self, key: str) -> str:
        # Without a recorded origin (a section handed over as a dict), name the variable that sets it.
        variable = f"TITAN_{self.section}_{key}" if self.section else f"TITAN_{key}"
        return self.origins.get(key, variable.upper())


def _explain(messages: Mapping[str, Any], config_class: type[Any], where: _Origins) -> str:
    known = setting_names(config_class)
    unknown = [key for key in messages if key not in known]
    lines = [
        f"{where.label(key)} {_first(messages[key])} ({where.of(key)})" for key in known if key in messages
    ]
    if unknown:
        kind = f"{where.section} setting(s)" if where.section else "setting(s)"
        hint = difflib.get_close_matches(unknown[0], known, n=1)
        lines.append(
            f"unknown {kind} {', '.join(unknown)} ({where.of(unknown[0])}); known: {', '.join(sorted(known))}"
            + (f"; did you mean {hint[0]}?" if hint else "")
        )
    return "\n".join(lines)


def _first(message: Any) -> str:
    while isinstance(message, list | dict):
        message = next(iter(message.values() if isinstance(message, dict) else message))
    return str(message)

"""The marshmallow schema of the event envelope: the machine-checked form of DESIGN §4.

The outbox validates every envelope before it is stored (without `titanseq`); tests validate the
published ones (with it). A failure is a bug in Titan, so it fails the write loudly.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from titan_core.eventtypes.envelope import (
    DATACONTENTTYPE,
    EVENT_TYPE_PREFIX,
    EVENT_TYPES,
    SPECVERSION,
    event_source,
)
from titan_core.eventtypes.kinds import entity_names, is_entity

_UUID7 = r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"
_TIME = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$"
_ORIGIN = r"^(rest|mqtt|load|plugin:[A-Za-z0-9_.\-]+)$"


class EnvelopeError(ValueError):
    """An envelope breaks DESIGN §4; `errors` maps each field to what is wrong with it."""

    def __init__(self, errors: Mapping[str, Any]) -> None:
        super().__init__(f"event envelope is not valid: {dict(errors)}")
        self.errors = dict(errors)


class EnvelopeSchema(Schema):
    """One CloudEvents 1.0 structured-mode event as Titan publishes it."""

    class Meta:
        unknown = RAISE

    specversion = fields.String(required=True, validate=validate.Equal(SPECVERSION))
    id = fields.String(required=True, validate=validate.Regexp(_UUID7))
    type = fields.String(
        required=True, validate=validate.OneOf([EVENT_TYPE_PREFIX + name for name in EVENT_TYPES])
    )
    source = fields.String(required=True, validate=validate.Regexp(r"^/"))
    time = fields.String(required=True, validate=validate.Regexp(_TIME))
    datacontenttype = fields.String(required=True, validate=validate.Equal(DATACONTENTTYPE))
    titanseq = fields.String(required=True, validate=validate.Regexp(r"^[1-9][0-9]*$"))
    # The core's entities and the kinds plugins registered (read when validating: kinds are
    # registered while apps are built, after this module was imported).
    titanentity = fields.String(required=True, validate=lambda name: _known_entity(name))
    titanid = fields.String(required=True, validate=validate.Length(min=1))
    titanpath = fields.String(validate=validate.Length(min=1))
    titanorigin = fields.String(required=True, validate=validate.Regexp(_ORIGIN))
    titansubject = fields.String(validate=validate.Length(min=1))
    semanticid = fields.String(validate=validate.Length(min=1))
    # Any JSON: the entity, or an element's ValueOnly value (null when it has none).
    data = fields.Raw(required=True, allow_none=True)

    @validates_schema
    def _consistent(self, envelope: dict[str, Any], **_: Any) -> None:
        entity = envelope.get("titanentity")
        if entity is None or "titanid" not in envelope:
            return
        if (entity == "element") != ("titanpath" in envelope):
            raise ValidationError("titanpath is present exactly for element events", "titanpath")
        short = str(envelope.get("type", "")).removeprefix(EVENT_TYPE_PREFIX)
        if short == "valueChanged" and entity != "element":
            raise ValidationError("valueChanged is an element event", "type")
        expected = event_source(entity, envelope["titanid"], envelope.get("titanpath"))
        if envelope.get("source") != expected:
            raise ValidationError(f"source must be {expected!r} for this subject", "source")
        if short != "valueChanged" and not isinstance(envelope.get("data"), dict):
            raise ValidationError(f"a {short} event carries the entity (a JSON object)", "data")


def _known_entity(name: str) -> None:
    if not is_entity(name):
        raise ValidationError(f"must be one of: {', '.join(entity_names())}")


_SCHEMA = EnvelopeSchema()
_UNPUBLISHED_SCHEMA = EnvelopeSchema(partial=("titanseq",))


def validate_envelope(envelope: Mapping[str, Any], *, published: bool = True) -> None:
    """Raise `EnvelopeError` unless `envelope` is valid; `published=False` allows a missing `titanseq`."""
    schema = _SCHEMA if published else _UNPUBLISHED_SCHEMA
    errors = schema.validate(dict(envelope))
    if errors:
        raise EnvelopeError(errors)


def is_uuid7(text: str) -> bool:
    return re.match(_UUID7, text) is not None

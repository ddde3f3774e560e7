"""The CloudEvents 1.0 envelope of a change (DESIGN §4): how a `Change` becomes the JSON every transport sends.

The outbox stores the envelope without `titanseq`; the relay adds it when it publishes
(`with_titanseq`), so the text is serialised once, at write time.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from titan_core.eventtypes.change import Change
from titan_core.eventtypes.kinds import CORE_ENTITIES, collection_of
from titan_core.model.identifiers import encode_identifier
from titan_core.model.projections import without_blob_values

SPECVERSION = "1.0"
EVENT_TYPE_PREFIX = "io.admin-shell.events.v1."
EVENT_TYPES = ("created", "updated", "deleted", "valueChanged")
# The core's entities; a plugin's registered kinds come on top (kinds.py, `entity_names()`).
ENTITIES = CORE_ENTITIES
DATACONTENTTYPE = "application/json"
# Every stored envelope starts with exactly this text, so the relay can splice `titanseq` in.
_HEAD = '{"specversion":"1.0",'


def uuid7() -> str:
    """A random UUID version 7 (RFC 9562): 48 bits of Unix milliseconds, then 74 random bits."""
    milliseconds = time.time_ns() // 1_000_000
    random_bits = int.from_bytes(os.urandom(10), "big")
    value = (milliseconds & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76  # version
    value |= ((random_bits >> 62) & 0xFFF) << 64  # rand_a: 12 bits
    value |= 0b10 << 62  # variant
    value |= random_bits & ((1 << 62) - 1)  # rand_b: 62 bits
    text = f"{value:032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def event_source(entity: str, identifier: str, path: str | None = None) -> str:
    """The REST path of the subject: `/submodels/{b64}/submodel-elements/{idShortPath, percent-encoded}`;
    for a plugin's kind, its collection + base64url(identifier). KeyError for an unknown entity."""
    source = collection_of(entity) + encode_identifier(identifier)
    if entity == "element":
        source += "/submodel-elements/" + quote(path or "", safe="")
    return source


def format_time(moment: datetime) -> str:
    """RFC 3339 in UTC with microseconds and a `Z`, as the envelope's `time` carries it."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def build_envelope(
    change: Change, *, origin: str, event_id: str, moment: datetime, subject: str | None = None
) -> dict[str, Any]:
    """The envelope of `change` without `titanseq`; extensions that do not apply are left out.

    `subject` (who made the change) becomes the `titansubject` extension; the outbox passes it only
    where the operator enabled it (`events_include_subject`), since it can be personal data.
    """
    envelope: dict[str, Any] = {
        "specversion": SPECVERSION,
        "id": event_id,
        "type": EVENT_TYPE_PREFIX + change.type,
        "source": event_source(change.entity, change.identifier, change.path),
        "time": format_time(moment),
        "datacontenttype": DATACONTENTTYPE,
        "titanentity": change.entity,
        "titanid": change.identifier,
    }
    if change.entity == "element":
        envelope["titanpath"] = change.path
    envelope["titanorigin"] = origin
    if subject:
        envelope["titansubject"] = subject
    if change.semantic_id is not None:
        envelope["semanticid"] = change.semantic_id
    envelope["data"] = event_data(change)
    return envelope


def event_data(change: Change) -> Any:
    """`data`: the entity (created/updated/deleted) or its ValueOnly value, Blob contents left out."""
    if change.type != "valueChanged" and isinstance(change.data, dict):
        return without_blob_values(change.data)
    # Value changes come from the ValueOnly readers, which already leave Blob contents out.
    return change.data


def stored_element(change: Change) -> str | None:
    """The `element` column of a valueChanged row: the whole element, Blob contents left out."""
    if change.type != "valueChanged" or change.element is None:
        return None
    return json.dumps(without_blob_values(change.element), separators=(",", ":"), ensure_ascii=False)


def dump_envelope(envelope: Mapping[str, Any]) -> str:
    """Compact JSON; the key order of `build_envelope` puts `specversion` first, as `with_titanseq` needs."""
    text = json.dumps(envelope, separators=(",", ":"), ensure_ascii=False)
    if not text.startswith(_HEAD):
        raise ValueError("an envelope must start with specversion 1.0")
    return text


def with_titanseq(stored: str, seq: int) -> bytes:
    """The published JSON: the stored envelope with `titanseq` (a decimal string) spliced in."""
    if not stored.startswith(_HEAD):
        raise ValueError(f"not a stored envelope: {stored[:40]!r}")
    return f'{_HEAD}"titanseq":"{seq}",{stored[len(_HEAD) :]}'.encode()


def short_type(event_type: str) -> str:
    """`io.admin-shell.events.v1.valueChanged` -> `valueChanged`."""
    return event_type.removeprefix(EVENT_TYPE_PREFIX)

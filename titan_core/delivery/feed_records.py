"""The Event Feed's records as JSON text, built from the stored text of the outbox rows.

A page of 100 records used to cost several milliseconds of CPU: every envelope and element was
parsed into objects, a record assembled from them, and the whole page written out again by
`json.dumps`. Here the subject (`data` of the envelope, or the stored element of a valueChanged)
goes into its record as the text it was stored as (compact JSON, as `json.dumps` writes it), the
parts of a page are parsed in one `json.loads` call each (one call per page rather than two per
record), and each record is written by joining its attributes, every string through the `json`
module's own string encoder. The text is the one `json.dumps(record, separators=(",", ":"),
ensure_ascii=False)` gives, byte for byte (tests/events/test_event_feed_records.py):
docs/performance.md, "Event Feed".
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from json.encoder import encode_basestring as _string
from typing import Any

from titan_core.delivery.profiles import AsyncAasOptions, first_key_value
from titan_core.eventtypes.envelope import short_type
from titan_core.eventtypes.feed_types import feed_type

# Compact JSON, as the stored envelopes and elements are written (titan_core/eventtypes/envelope.py).
ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)
_DATA_KEY = ',"data":'
_MODEL_TYPES = {
    "shell": "AssetAdministrationShell",
    "submodel": "Submodel",
    "concept_description": "ConceptDescription",
}


def feed_records(
    rows: Sequence[Any], *, compact: bool, options: AsyncAasOptions, compact_schema: str
) -> tuple[list[str], str | None]:
    """The records of outbox rows (`seq`, `envelope`, `element`) as JSON texts, and the time of the last.

    `compact`: COMPACT records (identifiers and semanticId), whose `dataschema` is `compact_schema`.
    """
    if not rows:
        return [], None
    split = [_split_envelope(row.envelope) for row in rows]
    heads = _parse_each([head for head, _ in split])
    texts = [
        row.element if short_type(head["type"]) == "valueChanged" else data
        for row, head, (_, data) in zip(rows, heads, split, strict=True)
    ]
    subjects = _parse_each(texts)
    render = _compact if compact else _full
    records = [
        render(row.seq, head, subject, text, options, compact_schema)
        for row, head, subject, text in zip(rows, heads, subjects, texts, strict=True)
    ]
    return records, heads[-1]["time"]


def _common(seq: int, head: dict[str, Any], entity: str, options: AsyncAasOptions) -> str:
    """The attributes every record has, without the closing brace."""
    return (
        f'{{"specversion":"1.0","id":{_string(head["id"])},"time":{_string(head["time"])},'
        f'"subject":{_string(head["titanid"])},"type":{_string(feed_type(entity, short_type(head["type"])))},'
        f'"source":{_string(options.base_url + head["source"])},"titanseq":"{seq}"'
    )


def _full(
    seq: int, head: dict[str, Any], subject: Any, text: str | None, options: AsyncAasOptions, _: str
) -> str:
    entity = head["titanentity"]
    record = _common(seq, head, entity, options)
    model_type = _MODEL_TYPES.get(entity) or (subject or {}).get("modelType")
    if model_type:
        record += f',"dataschema":{_string(f"{options.dataschema_prefix}#/components/schemas/{model_type}")}'
    semantic_id = first_key_value(subject.get("semanticId")) if isinstance(subject, dict) else None
    if semantic_id is not None:
        record += f',"semanticid":{_string(semantic_id)}'
    if subject is not None:
        record += f',"data":{text}'
    return record + "}"


def _compact(
    seq: int, head: dict[str, Any], subject: Any, _: str | None, options: AsyncAasOptions, schema: str
) -> str:
    entity = head["titanentity"]
    data: dict[str, Any] = {"id": head["titanid"]}
    if entity == "element":
        data["idShortPath"] = head["titanpath"]
    semantic = subject.get("semanticId") if isinstance(subject, dict) else None
    if semantic is not None:
        data["semanticId"] = semantic
    return f'{_common(seq, head, entity, options)},"dataschema":{_string(schema)},"data":{ENCODER.encode(data)}}}'


def _split_envelope(stored: str) -> tuple[str, str]:
    """A stored envelope as the JSON text of its attributes other than `data`, and that of `data`.

    `build_envelope` puts `data` last and every attribute before it is a string, in which a quote
    is always escaped: the first `,"data":` is therefore that attribute's key. A text of any other
    shape is parsed whole.
    """
    cut = stored.find(_DATA_KEY)
    if cut >= 0 and stored.endswith("}"):
        return stored[:cut] + "}", stored[cut + len(_DATA_KEY) : -1]
    envelope = json.loads(stored)
    data = envelope.pop("data", None)
    return ENCODER.encode(envelope), ENCODER.encode(data)


def _parse_each(texts: Sequence[str | None]) -> list[Any]:
    """Each JSON text parsed (None for None), in one call: a JSON array of them."""
    return list(json.loads(f"[{','.join(text or 'null' for text in texts)}]"))

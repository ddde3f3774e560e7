"""The Event Feed's records as JSON text, built from the stored text of the outbox rows.

Parsing every stored envelope and element into objects, assembling the records from them and
writing the page out again with `json.dumps` took about 1 ms of CPU for 100 records. Here the
subject (`data` of the envelope, or the stored element of a valueChanged) goes into its record as
the text it was stored as (compact JSON, as `json.dumps` writes it); the envelopes' other
attributes, their `data` and the elements are parsed in one `json.loads` call each per page, for
what a record says about them; and each record is joined from its attributes, every string
through the `json` module's own string encoder. The text is the one `json.dumps(record,
separators=(",", ":"), ensure_ascii=False)` gives, byte for byte (tests/events/
test_event_feed_records.py); docs/performance.md, "Event Feed".
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
    envelopes = [row.envelope for row in rows]
    try:
        heads, datas, data_texts = _split(envelopes)
    except ValueError:
        # An envelope that does not end with `data` (not written by `build_envelope`).
        heads, datas, data_texts = _parse_whole(envelopes)
    changed = [short_type(head["type"]) == "valueChanged" for head in heads]
    elements = _parse_each([row.element if value else None for row, value in zip(rows, changed, strict=True)])
    render = _compact if compact else _full
    records = [
        # The subject: the stored element of a valueChanged (`data` holds only its value), or `data`.
        render(row.seq, head, element, row.element, options, compact_schema)
        if value
        else render(row.seq, head, data, text, options, compact_schema)
        for row, head, value, element, data, text in zip(
            rows, heads, changed, elements, datas, data_texts, strict=True
        )
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
    # A plugin kind's `data` may be any JSON (a list of asset links): only an object names a type.
    model_type = _MODEL_TYPES.get(entity) or (subject.get("modelType") if isinstance(subject, dict) else None)
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


def _split(envelopes: Sequence[str]) -> tuple[list[Any], list[Any], list[str]]:
    """Each stored envelope's attributes other than `data` (parsed), its `data` (parsed) and the
    JSON text of its `data`.

    `build_envelope` puts `data` last and every attribute before it is a string, in which a quote
    is always escaped: the first `,"data":` is that attribute's key. Should an envelope have another
    shape, a part cut at that place is no JSON value (it has a `"key":` at its top level, or
    unbalanced brackets), so parsing the parts raises `ValueError`.
    """
    cuts = [stored.find(_DATA_KEY) for stored in envelopes]
    if any(cut < 0 or not stored.endswith("}") for stored, cut in zip(envelopes, cuts, strict=True)):
        raise ValueError("an envelope without a last `data` attribute")
    heads = _parse_each([stored[:cut] + "}" for stored, cut in zip(envelopes, cuts, strict=True)])
    texts = [stored[cut + len(_DATA_KEY) : -1] for stored, cut in zip(envelopes, cuts, strict=True)]
    return heads, _parse_each(texts), texts


def _parse_whole(envelopes: Sequence[str]) -> tuple[list[Any], list[Any], list[str]]:
    """What `_split` gives, from each envelope parsed whole."""
    heads = [json.loads(stored) for stored in envelopes]
    datas = [head.pop("data", None) for head in heads]
    return heads, datas, [ENCODER.encode(data) for data in datas]


def _parse_each(texts: Sequence[str | None]) -> list[Any]:
    """Each JSON text parsed (None for None), in one call: a JSON array of them."""
    return list(json.loads(f"[{','.join(text or 'null' for text in texts)}]"))

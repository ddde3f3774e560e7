"""The Event Feed's records are written from the stored text (titan_core/delivery/feed_records.py):
for any envelope the outbox can hold, the text is the one `json.dumps` gives for the record assembled
from the parsed envelope and element, byte for byte, in both presentations."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from titan_core.delivery.feed_records import feed_records
from titan_core.delivery.profiles import AsyncAasOptions, first_key_value
from titan_core.eventtypes.change import Change
from titan_core.eventtypes.envelope import build_envelope, dump_envelope, short_type, stored_element
from titan_core.eventtypes.feed_types import feed_type

OPTIONS = AsyncAasOptions(base_url="https://titan.example:8443/api")
SCHEMA = OPTIONS.base_url + "/event-feed/schemas/compact.v1.json"
MODEL_TYPES = {
    "shell": "AssetAdministrationShell",
    "submodel": "Submodel",
    "concept_description": "ConceptDescription",
}

# Text that JSON must escape, and what the splitting looks for, inside strings (no lone surrogates:
# they have no UTF-8 form, so no stored text holds one).
texts = st.text(
    alphabet=st.sampled_from(list('ab,:"\\{}[] ü\u2028\n\x01')) | st.characters(exclude_categories=["Cs"]),
    max_size=12,
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | texts,
    # Keys as the envelope's own: a `data` inside `data` must not be taken for the envelope's.
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(["data", "id"]) | texts, inner, max_size=3)
    ),
    max_leaves=8,
)
references = st.builds(
    lambda values: {
        "type": "ExternalReference",
        "keys": [{"type": "GlobalReference", "value": v} for v in values],
    },
    st.lists(texts, max_size=2),
)
entities = st.fixed_dictionaries(
    {"modelType": st.sampled_from(["Property", "Submodel", "Range"]), "idShort": texts},
    optional={"semanticId": references | st.none(), "value": json_values},
)


@st.composite
def changes(draw: st.DrawFn) -> Change:
    entity = draw(st.sampled_from(["shell", "submodel", "element", "concept_description"]))
    kind = (
        "valueChanged"
        if entity == "element" and draw(st.booleans())
        else draw(st.sampled_from(["created", "updated", "deleted"]))
    )
    path = draw(texts) if entity == "element" else None
    # A plugin's kinds may carry any JSON as `data` (the Discovery's asset links are a list).
    data = draw(json_values) if kind == "valueChanged" else draw(entities | st.none() | json_values)
    element = draw(entities | st.none()) if kind == "valueChanged" else None
    return Change(kind, entity, draw(texts), path, draw(texts | st.none()), data, element=element)  # type: ignore[arg-type]


def plain_record(row: Any, compact: bool) -> str:
    """The record as the feed first built it: everything parsed, assembled, and dumped."""
    envelope = json.loads(row.envelope)
    kind, entity = short_type(envelope["type"]), envelope["titanentity"]
    subject = (
        (json.loads(row.element) if row.element else None) if kind == "valueChanged" else envelope["data"]
    )
    record: dict[str, Any] = {
        "specversion": "1.0", "id": envelope["id"], "time": envelope["time"], "subject": envelope["titanid"],
        "type": feed_type(entity, kind), "source": OPTIONS.base_url + envelope["source"], "titanseq": str(row.seq),
    }  # fmt: skip
    semantic = subject.get("semanticId") if isinstance(subject, dict) else None
    if compact:
        data = {
            "id": envelope["titanid"],
            **({"idShortPath": envelope["titanpath"]} if entity == "element" else {}),
        }
        record |= {
            "dataschema": SCHEMA,
            "data": data | ({"semanticId": semantic} if semantic is not None else {}),
        }
    else:
        model_type = MODEL_TYPES.get(entity) or (
            subject.get("modelType") if isinstance(subject, dict) else None
        )
        if model_type:
            record["dataschema"] = f"{OPTIONS.dataschema_prefix}#/components/schemas/{model_type}"
        if first_key_value(semantic) is not None:
            record["semanticid"] = first_key_value(semantic)
        if subject is not None:
            record["data"] = subject
    return json.dumps(record, separators=(",", ":"), ensure_ascii=False)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(changes(), texts | st.none()), min_size=1, max_size=4), st.booleans())
def test_records_are_the_dumped_records_byte_for_byte(
    events: list[tuple[Change, str | None]], compact: bool
) -> None:
    moment = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
    rows = [
        SimpleNamespace(
            seq=seq,
            envelope=dump_envelope(
                build_envelope(change, origin="rest", event_id=f"e{seq}", moment=moment, subject=who)
            ),
            element=stored_element(change),
        )
        for seq, (change, who) in enumerate(events, start=1)
    ]
    records, last_time = feed_records(rows, compact=compact, options=OPTIONS, compact_schema=SCHEMA)
    assert records == [plain_record(row, compact) for row in rows]
    assert last_time == "2026-12-03T09:00:00.000000Z"


def test_a_record_whose_data_is_not_an_object_has_no_model_type() -> None:
    """`data` that is a list (a plugin kind's, e.g. a shell's asset links) gives a FULL record with
    that data and no `dataschema` derived from it (it answered 500 before)."""
    links = [{"name": "globalAssetId", "value": "urn:asset:1"}]
    change = Change("updated", "element", "urn:sm", "Links", None, links)
    stored = dump_envelope(build_envelope(change, origin="rest", event_id="e1", moment=datetime.now(UTC)))
    row = SimpleNamespace(seq=7, envelope=stored, element=None)
    (record,), _ = feed_records([row], compact=False, options=OPTIONS, compact_schema=SCHEMA)
    parsed = json.loads(record)
    assert parsed["data"] == links
    assert "dataschema" not in parsed, parsed
    assert record == plain_record(row, compact=False)


def test_an_envelope_in_another_layout_gives_the_same_record() -> None:
    """Rows whose envelope was written otherwise (spaces, `data` not last, an object with a `data`
    before it) are parsed whole; so is the page they are on."""
    change = Change("updated", "submodel", "urn:sm", None, None, {"modelType": "Submodel", "id": "urn:sm"})
    stored = dump_envelope(build_envelope(change, origin="rest", event_id="e1", moment=datetime.now(UTC)))
    envelope = json.loads(stored)
    data = envelope.pop("data")
    middle = dict(list(envelope.items())[:3]) | {"data": data} | dict(list(envelope.items())[3:])
    for text in (
        json.dumps(json.loads(stored), indent=1),
        json.dumps({"data": data, **envelope}),
        json.dumps(middle, separators=(",", ":")),
        json.dumps({**envelope, "ext": {"x": 1, "data": [1]}, "data": data}, separators=(",", ":")),
        json.dumps({**envelope, "ext": [{"x": 1, "data": {"y": 2}}], "data": data}, separators=(",", ":")),
    ):
        rows = [
            SimpleNamespace(seq=1, envelope=stored, element=None),
            SimpleNamespace(seq=2, envelope=text, element=None),
        ]
        for compact in (False, True):
            records, _ = feed_records(rows, compact=compact, options=OPTIONS, compact_schema=SCHEMA)
            assert records == [plain_record(row, compact) for row in rows]

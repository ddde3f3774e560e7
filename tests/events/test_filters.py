"""The filter module `/events` and the WebSocket plugin share: key semantics and refusals."""

from __future__ import annotations

from typing import Any

import pytest
from multidict import MultiDict

from titan_core.delivery.filters import EventFilter, parse_filter_json, parse_filter_query
from titan_core.errors import BadRequest


def envelope(path: str | None = None, **fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "type": "io.admin-shell.events.v1.valueChanged",
        "titanentity": "element" if path else "submodel",
        "titanid": "urn:sm",
    }
    if path:
        base["titanpath"] = path
    return {**base, **fields}


@pytest.mark.parametrize(
    ("prefix", "path", "covered"),
    [
        ("a.b", "a.b", True),
        ("a.b", "a.b.c", True),
        ("a.b", "a.b[0]", True),
        ("a.b", "a.bc", False),
        ("a.b", "a", False),
        ("a[1]", "a[10]", False),
        ("a[1]", "a[1].x", True),
    ],
)
def test_paths_cover_idshortpaths_on_segment_boundaries(prefix: str, path: str, covered: bool) -> None:
    assert parse_filter_json({"paths": [prefix]}).matches(envelope(path)) is covered


def test_paths_match_element_events_only() -> None:
    assert not parse_filter_json({"paths": ["a"]}).matches(envelope())


def test_empty_filter_matches_everything() -> None:
    assert EventFilter().is_empty and EventFilter().matches(envelope("x"))


def test_identifier_lists_are_not_split_at_commas() -> None:
    query = MultiDict([("ids", "urn:a,b"), ("types", "created,valueChanged")])
    parsed = parse_filter_query(query)
    assert parsed.ids == frozenset({"urn:a,b"})
    assert parsed.types == frozenset({"created", "valueChanged"})


def test_json_filter_takes_a_string_for_a_one_item_list() -> None:
    assert parse_filter_json({"ids": "urn:sm"}).matches(envelope("x"))


@pytest.mark.parametrize(
    ("document", "fragment"),
    [
        ([], "JSON object"),
        ({"ids": 5}, "list of strings"),
        ({"ids": []}, "empty list"),
        ({"ids": [""]}, "non-empty strings"),
        ({"colour": ["red"]}, "unknown filter key 'colour'"),
        ({"paths": ["a["]}, "paths"),
    ],
)
def test_bad_filters_say_what_is_accepted(document: Any, fragment: str) -> None:
    with pytest.raises(BadRequest, match=fragment):
        parse_filter_json(document)

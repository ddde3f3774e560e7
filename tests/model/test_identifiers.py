"""Identifiers in paths: base64url encoding and decoding, and `assetIds` query values."""

from __future__ import annotations

import base64
import json

import pytest

from titan_core.errors import BadRequest
from titan_core.model.identifiers import decode_asset_id_filter, decode_identifier, encode_identifier

IDENTIFIERS = [
    "https://example.com/ids/sm/4711",
    "urn:example:aas:1#frag+plus/slash?q=1",
    "0173-1#02-AAO677#002",
    "Grüße, 温度 ✓ 🚀",
    "a",
    "ab",
    "abc",
]


@pytest.mark.parametrize("identifier", IDENTIFIERS)
def test_identifier_survives_encoding_and_decoding(identifier: str) -> None:
    assert decode_identifier(encode_identifier(identifier)) == identifier


def test_encoding_is_unpadded_base64url() -> None:
    encoded = encode_identifier("https://example.com/ids/sm/4711")
    assert encoded == "aHR0cHM6Ly9leGFtcGxlLmNvbS9pZHMvc20vNDcxMQ"
    assert "=" not in encode_identifier("a")
    assert encode_identifier("??>") == "Pz8-"  # '-' where base64 has '+'
    assert encode_identifier("???") == "Pz8_"  # '_' where base64 has '/'


def test_spec_example_identifier_decodes() -> None:
    assert (
        decode_identifier("aHR0cHM6Ly9hZG1pbi1zaGVsbC5pby9zYW1wbGVTTQ") == "https://admin-shell.io/sampleSM"
    )


def test_padded_segment_is_accepted() -> None:
    assert decode_identifier("YQ==") == "a"
    assert decode_identifier("YWI=") == "ab"


@pytest.mark.parametrize(
    ("segment", "fragment"),
    [
        ("Pz8+", "character '+' at position 3"),
        ("Pz8/", "character '/' at position 3"),
        ("abc d", "character ' ' at position 3"),
        ("YQ=A", "character '=' at position 2"),
        ("YQ===", "more than two '='"),
    ],
)
def test_segment_outside_the_base64url_alphabet_is_refused(segment: str, fragment: str) -> None:
    with pytest.raises(BadRequest) as caught:
        decode_identifier(segment)
    message = caught.value.message
    assert "is not valid base64url" in message
    assert fragment in message
    assert "RFC 4648 §5" in message


@pytest.mark.parametrize("segment", ["a", "abcde", "YQ="])
def test_segment_of_impossible_length_is_refused(segment: str) -> None:
    with pytest.raises(BadRequest, match="cannot be produced by an encoder"):
        decode_identifier(segment)


def test_bytes_that_are_not_utf8_are_refused() -> None:
    segment = base64.urlsafe_b64encode(b"\xff\xfeab").rstrip(b"=").decode()
    with pytest.raises(BadRequest, match="not UTF-8"):
        decode_identifier(segment)


def test_empty_identifier_is_refused() -> None:
    with pytest.raises(BadRequest, match="empty identifier"):
        decode_identifier("")


@pytest.mark.parametrize("character", ["\x00", "\x01", "\x1b", "\x7f\x00", "\ufffe"])
def test_identifier_with_control_character_is_refused(character: str) -> None:
    with pytest.raises(BadRequest, match="control character"):
        decode_identifier(encode_identifier("urn:x" + character))


def test_identifier_with_tab_or_newline_is_allowed_as_the_meta_model_allows_it() -> None:
    assert decode_identifier(encode_identifier("urn:a\tb\nc")) == "urn:a\tb\nc"


def _encode_json(document: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(document).encode()).rstrip(b"=").decode()


def test_asset_id_filter_from_the_spec_example_decodes() -> None:
    example = (
        "eyAibmFtZSI6ICJzb21lLWFzc2V0LWlkIiwgInZhbHVlIjogImh0dHA6Ly9leGFtcGxlLWNvbXBhbnkuY29tL215QXNzZXQiLCAi"
        "ZXh0ZXJuYWxTdWJqZWN0SWQiOiB7ICJrZXlzIjogWyB7ICJ0eXBlIjogIkdsb2JhbFJlZmVyZW5jZSIsICJ2YWx1ZSI6ICJodHRw"
        "Oi8vZXhhbXBsZS1jb21wYW55LmNvbS9leGFtcGxlLWNvbXBhbnlzLWFzc2V0LWtleXMiIH0gXSwgInR5cGUiOiAiR2xvYmFsUmVm"
        "ZXJlbmNlIiB9IH0"
    )
    assert decode_asset_id_filter(example) == ("some-asset-id", "http://example-company.com/myAsset")


def test_asset_id_filter_accepts_padding_and_whitespace_in_the_json() -> None:
    raw = base64.urlsafe_b64encode(b'{\n  "name" : "serialNumber",\n  "value": "4711"\n}').decode()
    assert decode_asset_id_filter(raw) == ("serialNumber", "4711")


@pytest.mark.parametrize(
    ("segment", "fragment"),
    [
        (base64.urlsafe_b64encode(b"not json").decode(), "does not decode to JSON"),
        (_encode_json([{"name": "a", "value": "b"}]), "decodes to a JSON array"),
        (_encode_json({"value": "b"}), "member 'name' must be a non-empty string, got null"),
        (_encode_json({"name": "a", "value": 5}), "member 'value' must be a non-empty string, got number"),
        (_encode_json({"name": "", "value": "b"}), "got empty string"),
        ("%%%", "is not valid base64url"),
    ],
)
def test_malformed_asset_id_filter_is_refused_with_the_reason(segment: str, fragment: str) -> None:
    with pytest.raises(BadRequest) as caught:
        decode_asset_id_filter(segment)
    assert fragment in caught.value.message

"""idShortPath parsing and formatting."""

from __future__ import annotations

import pytest

from titan_core.errors import BadRequest
from titan_core.model.paths import format_id_short_path, parse_id_short_path


@pytest.mark.parametrize(
    ("text", "segments"),
    [
        ("Temperature", ("Temperature",)),
        ("a.b.c", ("a", "b", "c")),
        ("sme1.sme2[0].p1", ("sme1", "sme2", 0, "p1")),
        ("list[0][1]", ("list", 0, 1)),
        ("list[12].x[3]", ("list", 12, "x", 3)),
        ("Contact_Info-2.Phone", ("Contact_Info-2", "Phone")),
        ("x9", ("x9",)),
    ],
)
def test_valid_path_parses_into_segments(text: str, segments: tuple[str | int, ...]) -> None:
    assert parse_id_short_path(text) == segments


@pytest.mark.parametrize("text", ["Temperature", "a.b.c", "sme1.sme2[0].p1", "list[0][1]", "l[3].x.y[0]"])
def test_formatting_parsed_segments_gives_the_text_back(text: str) -> None:
    assert format_id_short_path(parse_id_short_path(text)) == text


def test_relative_path_starting_with_an_index_formats_with_brackets() -> None:
    assert format_id_short_path((0, "Name")) == "[0].Name"
    assert format_id_short_path(()) == ""


@pytest.mark.parametrize(
    ("text", "position", "expected"),
    [
        (".a", 0, "expected an idShort"),
        ("a.", 2, "expected an idShort after '.'"),
        ("a..b", 2, "expected an idShort"),
        ("1abc", 0, "expected an idShort (a letter first), found '1'"),
        ("_a", 0, "found '_'"),
        ("a b", 1, "expected '.' or '['"),
        ("a[", 1, "'[' followed by digits and ']'"),
        ("a[x]", 1, "'[' followed by digits and ']'"),
        ("a[-1]", 1, "'[' followed by digits and ']'"),
        ("a[1", 1, "'[' followed by digits and ']'"),
        ("a]", 1, "expected '.' or '['"),
        ("[0].a", 0, "expected an idShort"),
        ("a/b", 1, "found '/'"),
        ("a.b.Ä", 4, "found 'Ä'"),
    ],
)
def test_syntax_error_names_position_and_grammar(text: str, position: int, expected: str) -> None:
    with pytest.raises(BadRequest) as caught:
        parse_id_short_path(text)
    message = caught.value.message
    assert f"at position {position}" in message
    assert expected in message
    assert "an idShort starts with a letter" in message  # the accepted grammar is spelled out


def test_empty_path_is_refused() -> None:
    with pytest.raises(BadRequest, match="empty"):
        parse_id_short_path("")


def test_path_deeper_than_the_limit_is_refused() -> None:
    assert len(parse_id_short_path(".".join(["a"] * 64))) == 64
    with pytest.raises(BadRequest, match="more than 64 segments"):
        parse_id_short_path(".".join(["a"] * 65))
    with pytest.raises(BadRequest, match="more than 3 segments"):
        parse_id_short_path("a[0][1][2]", max_depth=3)


def test_absurd_list_index_is_refused() -> None:
    assert parse_id_short_path("a[999999999]") == ("a", 999_999_999)
    with pytest.raises(BadRequest, match="more than 9 digits"):
        parse_id_short_path("a[1234567890]")


def test_path_percent_encoded_twice_is_decoded_once_more() -> None:
    # aiohttp decodes once; a client that encoded `[` as %5B and then again leaves `%5B` here.
    assert parse_id_short_path("sme1.sme2%5B0%5D.p1") == ("sme1", "sme2", 0, "p1")
    assert parse_id_short_path("a%2Eb") == ("a", "b")


def test_path_still_encoded_after_two_decodings_is_refused() -> None:
    with pytest.raises(BadRequest, match="still contains '%'"):
        parse_id_short_path("a%255B0%255D")


def test_percent_escape_that_is_not_utf8_is_refused() -> None:
    with pytest.raises(BadRequest, match="not UTF-8"):
        parse_id_short_path("a%FF")


def test_error_for_a_decoded_path_shows_what_the_client_sent() -> None:
    with pytest.raises(BadRequest) as caught:
        parse_id_short_path("a%5Bx%5D")
    assert "decoded from 'a%5Bx%5D'" in caught.value.message

"""`titan_core.logsafe.loggable`: client text becomes one printable log line."""

from __future__ import annotations

from titan_core.logsafe import loggable


def test_newlines_and_escapes_are_shown_not_obeyed() -> None:
    forged = "/shells/x\nINFO fake: admin logged in\r\x1b[2J\u2028"
    assert loggable(forged) == "/shells/x\\nINFO fake: admin logged in\\r\\x1b[2J\\u2028"


def test_a_backslash_is_doubled_so_an_escape_cannot_be_faked() -> None:
    assert loggable("a\\nb") == "a\\\\nb"
    assert loggable("a\\nb") != loggable("a\nb")


def test_bidi_overrides_are_escaped() -> None:
    assert loggable("user\u202eexe.txt") == "user\\u202eexe.txt"


def test_long_text_is_cut_and_says_how_much_was_left_out() -> None:
    assert loggable("x" * 310, max_chars=300) == "x" * 300 + "…[10 more]"


def test_bytes_are_decoded_and_escaped() -> None:
    assert loggable(b'"FORGED"\n\xff') == '"FORGED"\\n\ufffd'


def test_plain_text_is_unchanged() -> None:
    assert loggable("https://plant.example/line1/äöü") == "https://plant.example/line1/äöü"

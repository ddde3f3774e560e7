"""idShortPaths (`a.b[2].c`): parsing into segments, and formatting segments back into the canonical text.

Grammar (IDTA Part 2, "Addressing Resources"), checked left to right with the position of the first error:

    idShortPath := idShort ( "." idShort | "[" index "]" )*
    idShort     := letter ( letter | digit | "_" | "-" )*
    index       := digit+                       (a zero-based SubmodelElementList position)

idShort characters: the V3.0 meta-model (aas-core3.0) allows `[a-zA-Z][a-zA-Z0-9_]*`, V3.1 adds `-`
(`^[a-zA-Z][a-zA-Z0-9_-]*[a-zA-Z0-9_]+$`). The parser accepts the union, so a path to any idShort that
either version allows can be written; whether the element exists is the navigator's question.

Percent-encoding: aiohttp's `match_info` is already URL-decoded once, which is what the spec asks of
clients (`sme1.sme2%5B0%5D.p1`). Some clients encode twice (their HTTP library encodes the `%` of an
already encoded path: `%255B`). Since `%` can never occur in a valid idShortPath, a `%` in the text is
unambiguous: the text is percent-decoded once more before parsing. Never more than once, so a path
cannot smuggle characters through repeated encoding layers.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from urllib.parse import unquote

from titan_core.errors import BadRequest

PathSegment = str | int
"""One step of an idShortPath: an idShort (str) or a SubmodelElementList index (int)."""

IdShortPath = tuple[PathSegment, ...]

DEFAULT_MAX_DEPTH = 64
_MAX_INDEX_DIGITS = 9  # a list with a billion items is not a list a server holds

_ID_SHORT = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")
_INDEX = re.compile(r"\[([0-9]+)\]")

GRAMMAR = (
    "an idShortPath is an idShort followed by '.idShort' or '[index]' steps, "
    "e.g. 'Nameplate.Markings[0].Name'; "
    "an idShort starts with a letter followed by letters, digits, '_' or '-'; an index is a non-negative "
    "decimal number"
)


@lru_cache(maxsize=4096)
def parse_id_short_path(text: str, *, max_depth: int = DEFAULT_MAX_DEPTH) -> IdShortPath:
    """The segments of `text` (`"a.b[2].c"` -> `("a", "b", 2, "c")`); `BadRequest` on any syntax error.

    `text` is the path as aiohttp hands it over (decoded once); see the module docstring for a `%`.
    Results are cached: device writes address the same few paths over and over.
    """
    original = text
    if "%" in text:
        text = _percent_decode(text)
    if not text:
        raise BadRequest(f"The idShortPath is empty; {GRAMMAR}")
    segments: list[PathSegment] = []
    position = 0
    length = len(text)
    expect_id_short = True
    while position < length:
        if expect_id_short:
            match = _ID_SHORT.match(text, position)
            if match is None:
                raise _syntax_error(original, text, position, "an idShort (a letter first)")
            segments.append(match.group())
        else:
            char = text[position]
            if char == ".":
                position += 1
                expect_id_short = True
                if position == length:
                    raise _syntax_error(original, text, position, "an idShort after '.'")
                continue
            match = _INDEX.match(text, position)
            if match is None:
                what = "'.' or '['" if char != "[" else "'[' followed by digits and ']'"
                raise _syntax_error(original, text, position, what)
            digits = match.group(1)
            if len(digits) > _MAX_INDEX_DIGITS:
                raise BadRequest(
                    f"idShortPath {original!r}: the list index at position {position + 1} has more than "
                    f"{_MAX_INDEX_DIGITS} digits"
                )
            segments.append(int(digits))
        if len(segments) > max_depth:
            raise BadRequest(
                f"idShortPath {_shorten(original)!r} has more than {max_depth} segments; "
                f"Titan addresses elements at most {max_depth} levels deep"
            )
        position = match.end()
        expect_id_short = False
    return tuple(segments)


def format_id_short_path(segments: Iterable[PathSegment]) -> str:
    """The canonical text of `segments`: `("a", "b", 2, "c")` -> `"a.b[2].c"`.

    A leading index is written as is (`(0, "x")` -> `"[0].x"`), for paths relative to a list.
    """
    parts: list[str] = []
    for segment in segments:
        if isinstance(segment, int):
            parts.append(f"[{segment}]")
        elif parts:
            parts.append("." + segment)
        else:
            parts.append(segment)
    return "".join(parts)


def _percent_decode(text: str) -> str:
    try:
        decoded = unquote(text, errors="strict")
    except UnicodeDecodeError:
        raise BadRequest(
            f"idShortPath {_shorten(text)!r} contains percent-escapes that are not UTF-8; {GRAMMAR}"
        ) from None
    if "%" in decoded:
        raise BadRequest(
            f"idShortPath {_shorten(text)!r} still contains '%' after decoding it once more; "
            f"percent-encode the path once (or twice at most); {GRAMMAR}"
        )
    return decoded


def _syntax_error(original: str, text: str, position: int, expected: str) -> BadRequest:
    found = repr(text[position]) if position < len(text) else "the end of the path"
    decoded = f" (decoded from {_shorten(original)!r})" if original != text else ""
    return BadRequest(
        f"idShortPath {_shorten(text)!r}{decoded} is invalid at position {position}: expected {expected}, "
        f"found {found}; {GRAMMAR}"
    )


def _shorten(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[:limit] + "…"

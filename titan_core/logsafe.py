"""Makes text a client chose safe to put in a log line: control characters escaped, length capped.

A request path, a header or an MQTT payload can carry a newline (`%0A`) or a terminal escape; logged
as is, it forges a second log line or rewrites the operator's terminal. Pass such values through
`loggable` before they reach a log call (as a `%s` argument, never as the format string).
"""

from __future__ import annotations

import re
import unicodedata

# Longest piece of client text a log line carries; the rest is cut and marked.
DEFAULT_MAX_CHARS = 300

# C0 and C1 controls, DEL, and the Unicode line and paragraph separators (which some log viewers
# treat as line breaks). Backslash too, so an escaped `\n` cannot be told apart from a real one.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\\\\]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\\": "\\\\"}


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    named = _NAMED.get(char)
    if named is not None:
        return named
    code = ord(char)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def loggable(value: object, max_chars: int = DEFAULT_MAX_CHARS) -> str:
    """`value` as one printable log-safe line: controls escaped (`\\n`, `\\x1b`, `\\u2028`), and at
    most `max_chars` characters of it kept (marked with `…[N more]` when cut).

    Bytes are decoded as UTF-8 with undecodable bytes escaped; anything else goes through `str`.
    """
    if isinstance(value, bytes | bytearray | memoryview):
        text = bytes(value).decode("utf-8", errors="replace")
    else:
        text = value if isinstance(value, str) else str(value)
    cut = len(text) - max_chars
    if cut > 0:
        text = text[:max_chars]
    text = _UNSAFE.sub(_escape, text)
    # Format characters (bidi overrides like U+202E) reorder what the reader sees.
    if any(unicodedata.category(char) == "Cf" for char in text):
        text = "".join(f"\\u{ord(char):04x}" if unicodedata.category(char) == "Cf" else char for char in text)
    return f"{text}…[{cut} more]" if cut > 0 else text

"""Identifiers in URLs and topics: base64url (RFC 4648 §5) of the UTF-8 identifier, and `assetIds` filters.

Encoding is unpadded (as Part 2 requires); decoding also accepts padding, because many clients send it.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from functools import lru_cache

from titan_core.errors import BadRequest

_BASE64URL = re.compile(r"[A-Za-z0-9_-]*={0,2}")

# The meta-model's string type (AASd-130) allows TAB, LF and CR but no other C0 control character,
# and never U+FFFE/U+FFFF; an identifier with such characters cannot exist, so the request is wrong.
_FORBIDDEN_CHARACTERS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")

_ACCEPTED = (
    "identifiers in paths are the base64url (RFC 4648 §5) encoding of the UTF-8 identifier, "
    "without '=' padding, using only A-Z, a-z, 0-9, '-' and '_'"
)


@lru_cache(maxsize=4096)
def encode_identifier(identifier: str) -> str:
    """The unpadded base64url form of `identifier`, as used in REST paths, event sources and MQTT topics."""
    return base64.urlsafe_b64encode(identifier.encode("utf-8")).rstrip(b"=").decode("ascii")


@lru_cache(maxsize=4096)
def decode_identifier(segment: str) -> str:
    """The identifier encoded in a path segment or query value; `BadRequest` when it is not one.

    Accepts padded and unpadded base64url. Refuses the standard base64 alphabet ('+', '/'),
    lengths no encoder produces, bytes that are not UTF-8, an empty result and control characters.
    """
    raw = _decode_base64url(segment, what="identifier")
    try:
        identifier = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise BadRequest(
            f"{_shorten(segment)!r} is not valid base64url: the decoded bytes are not UTF-8 "
            f"({error.reason} at byte {error.start}); {_ACCEPTED}"
        ) from None
    if not identifier:
        raise BadRequest(f"{_shorten(segment)!r} is not valid base64url: it decodes to an empty identifier")
    forbidden = _FORBIDDEN_CHARACTERS.search(identifier)
    if forbidden is not None:
        raise BadRequest(
            f"The identifier decoded from {_shorten(segment)!r} contains the control character "
            f"U+{ord(forbidden.group()):04X} at position {forbidden.start()}; AAS identifiers may contain "
            "no control characters other than tab, line feed and carriage return"
        )
    return identifier


def decode_asset_id_filter(segment: str) -> tuple[str, str]:
    """`(name, value)` of one `assetIds` query value: base64url of a JSON SpecificAssetId.

    Only `name` and `value` are used for matching; other members (`externalSubjectId`, `semanticId`)
    are allowed and ignored.
    """
    raw = _decode_base64url(segment, what="assetIds value")
    try:
        document = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        raise BadRequest(
            f"assetIds value {_shorten(segment)!r} does not decode to JSON ({error}); expected the "
            'base64url encoding of a JSON object like {"name": "serialNumber", "value": "4711"}'
        ) from None
    if not isinstance(document, dict):
        raise BadRequest(
            f"assetIds value {_shorten(segment)!r} decodes to a JSON {_json_kind(document)}; expected an "
            'object like {"name": "serialNumber", "value": "4711"}'
        )
    name, value = document.get("name"), document.get("value")
    for member, content in (("name", name), ("value", value)):
        if not isinstance(content, str) or not content:
            raise BadRequest(
                f"assetIds value {_shorten(segment)!r}: member {member!r} must be a non-empty string, "
                f"got {_json_kind(content)}"
            )
    assert isinstance(name, str) and isinstance(value, str)  # narrowed by the loop above
    return name, value


def _decode_base64url(segment: str, *, what: str) -> bytes:
    if _BASE64URL.fullmatch(segment) is None:
        bad = next(
            (index for index, char in enumerate(segment) if not _is_base64url_char(char, segment, index)),
            None,
        )
        problem = (
            "it ends in more than two '=' padding characters"
            if bad is None
            else f"character {segment[bad]!r} at position {bad} is not allowed"
        )
        raise BadRequest(f"{what} {_shorten(segment)!r} is not valid base64url: {problem}; {_ACCEPTED}")
    unpadded = segment.rstrip("=")
    if len(unpadded) % 4 == 1 or (len(segment) != len(unpadded) and len(segment) % 4 != 0):
        raise BadRequest(
            f"{what} {_shorten(segment)!r} is not valid base64url: a length of {len(unpadded)} characters "
            f"cannot be produced by an encoder (it is one character too long or too short); {_ACCEPTED}"
        )
    try:
        return base64.urlsafe_b64decode(unpadded + "=" * (-len(unpadded) % 4))
    except (binascii.Error, ValueError) as error:  # the checks above should rule these out
        raise BadRequest(
            f"{what} {_shorten(segment)!r} is not valid base64url: {error}; {_ACCEPTED}"
        ) from None


def _is_base64url_char(char: str, segment: str, index: int) -> bool:
    if char == "=":
        return segment[index:].strip("=") == ""
    return char.isascii() and (char.isalnum() or char in "-_")


def _shorten(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


def _json_kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string" if value else "empty string"
    if isinstance(value, list):
        return "array"
    return "object"

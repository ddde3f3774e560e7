"""Strict JSON text parsing for request bodies and loaded files: only what RFC 8259 calls JSON."""

from __future__ import annotations

import json
import math
import sys
from typing import Any

from titan_core.errors import BadRequest


def loads_json(text: str) -> Any:
    """`json.loads`, refusing what is no JSON (NaN, Infinity) and numbers Python cannot hold faithfully.

    Those raise `BadRequest`; `JSONDecodeError` and `RecursionError` are left to the caller, which
    knows where the text came from. Python would turn `1e400` into infinity and accept `NaN`
    silently; a client that sends them did not ask for INF or NaN.
    """
    try:
        return json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
    except json.JSONDecodeError:
        raise
    except ValueError:
        # int() refuses more than sys.get_int_max_str_digits() digits (a guard against slow parsing).
        raise BadRequest(
            f"a number in the JSON has more than {sys.get_int_max_str_digits()} digits, more than "
            "this server parses; send such a value as a JSON string if its valueType allows it"
        ) from None


# How xs:double writes the values that JSON has no number for.
_XSD_SPELLING = {"NaN": "NaN", "Infinity": "INF", "-Infinity": "-INF"}


def _refuse_constant(token: str) -> Any:
    raise BadRequest(
        f"{token} is not JSON (RFC 8259 has no such number); for an xs:double or xs:float value send "
        f'the string "{_XSD_SPELLING.get(token, token)}"'
    )


def _finite_float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        shown = text if len(text) <= 40 else text[:40] + "…"
        raise BadRequest(
            f"the number {shown} is out of the range of a double (at most about 1.8e308 in magnitude); "
            "numbers that large fit only xs:decimal or xs:integer values, sent as digits without exponent"
        )
    return number

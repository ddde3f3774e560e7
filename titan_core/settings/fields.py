"""marshmallow fields for settings: each takes a typed TOML value or the text of a variable or flag.

Every refusal says what is accepted and what was given (`must be a whole number, got 'ten'`); the
section loader (sections.py) puts the setting's name in front and where the value came from behind.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Generic, TypeVar

from marshmallow import ValidationError, fields

T = TypeVar("T")
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


class SettingField(fields.Field[T], Generic[T]):
    """Base of the settings fields: `refuse` builds the message, hiding secret values."""

    def __init__(self, *, secret: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.secret = secret

    def refuse(self, accepted: str, value: Any) -> ValidationError:
        shown = "(hidden)" if self.secret else repr(value)
        return ValidationError(f"must be {accepted}, got {shown}")


class Flag(SettingField[bool]):
    """true/false in TOML; 1/0, yes/no, on/off, true/false as text."""

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> bool:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise self.refuse("true or false", value)


class Text(SettingField[str]):
    """Any text; a TOML number is taken as its text, a list or table is refused."""

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> str:
        if isinstance(value, bool | list | dict):
            raise self.refuse("text", value)
        return str(value).strip()


class Number(SettingField[float]):
    """A finite number, at least `minimum` (and at most `maximum`) when given."""

    kind = "a number"

    def __init__(self, *, minimum: float | None = None, maximum: float | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.minimum = minimum
        self.maximum = maximum

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> float:
        number = self._number(value)
        low, high = self.minimum, self.maximum
        if low is not None and high is not None and not low <= number <= high:
            raise self.refuse(self.accepted, value)
        if low is not None and number < low:
            raise self.refuse(f"at least {low:g}", value)
        if high is not None and number > high:
            raise self.refuse(f"at most {high:g}", value)
        return number

    @property
    def accepted(self) -> str:
        """What a value must be: with both bounds they say it at once (`a whole number from 1 to 65535`)."""
        if self.minimum is not None and self.maximum is not None:
            return f"{self.kind} from {self.minimum:g} to {self.maximum:g}"
        return self.kind

    def _number(self, value: Any) -> float:
        if isinstance(value, bool):  # TOML `true` is no number, though Python would say 1
            raise self.refuse(self.accepted, value)
        try:
            number = float(value.strip() if isinstance(value, str) else value)
        except (TypeError, ValueError):
            raise self.refuse(self.accepted, value) from None
        if not math.isfinite(number):
            raise self.refuse(self.accepted, value)
        return number


class Whole(Number):
    """A whole number (`10`, `"10"`, `10.0`; not `2.5`) within the bounds given."""

    kind = "a whole number"

    def _number(self, value: Any) -> float:
        number = super()._number(value)
        if not number.is_integer():
            raise self.refuse(self.accepted, value)
        return number

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> Any:
        return int(super()._deserialize(value, attr, data, **kwargs))


class Names(SettingField[tuple[str, ...]]):
    """A TOML array, or the comma-separated text a variable carries; blank entries are dropped."""

    def __init__(self, *, item: Callable[[str], str] = str.strip, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.item = item

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> tuple[str, ...]:
        items: Iterable[Any] = value.split(",") if isinstance(value, str) else value
        if not isinstance(items, list | tuple) or any(isinstance(item, list | dict) for item in items):
            raise self.refuse("a list or a comma-separated string", value)
        return tuple(self.item(str(item).strip()) for item in items if str(item).strip())


class Choice(SettingField[T]):
    """One of a few spellings, each standing for a value (`"v5"` and `"5.0"` both mean MQTT 5).

    `fold` normalises the text before the look-up (str.upper for log levels); with `optional`, an
    empty text means "not set" (None), as `TITAN_MQTT_QOS_ELEMENT=` does.
    """

    def __init__(
        self,
        choices: Mapping[str, T],
        *,
        accepted: str,
        fold: Callable[[str], str] = str.lower,
        optional: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(allow_none=optional, **kwargs)
        self.choices = dict(choices)
        self.accepted = accepted
        self.fold = fold
        self.optional = optional

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> Any:
        if isinstance(value, bool):
            raise self.refuse(self.accepted, value)
        text = self.fold(str(value).strip())
        if not text and self.optional:
            return None
        if text not in self.choices:
            raise self.refuse(self.accepted, value)
        return self.choices[text]

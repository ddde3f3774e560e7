"""What goes wrong with settings: an error naming the setting, and a warning for renamed ones."""

from __future__ import annotations


class SettingsError(ValueError):
    """A setting has a value Titan cannot use; the message names the setting and what it accepts.

    `setting` names the key at fault when one key is (the loader then adds where the value came from:
    the TOML file, a `TITAN_*` variable or a flag).
    """

    def __init__(self, message: str, *, setting: str | None = None) -> None:
        super().__init__(message)
        self.setting = setting


class SettingDeprecationWarning(FutureWarning):
    """A setting still works under an old name that goes away in the next minor release.

    A FutureWarning, not a DeprecationWarning: the reader is the operator, and Python shows
    FutureWarnings by default.
    """

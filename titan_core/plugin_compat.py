"""The version of the plugin API, the range a plugin declares it needs, and deprecated names.

Policy (docs/plugins.md, "Compatibility"): the API version is MAJOR.MINOR. A minor release only
adds; a name it replaces stays one minor release more and warns (`PluginApiDeprecationWarning`)
when used; a major release may remove or change. A plugin declares the versions it works with in
a module attribute, `TITAN_PLUGIN_API = ">=1.0,<2"` (PEP 440 specifiers), and a plugin whose range
does not contain `API_VERSION` is refused when it loads, with both named.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import Version

API_VERSION = "1.2"
"""The version of `titan_core.plugin_api`: MAJOR.MINOR."""

REQUIREMENT_ATTRIBUTE = "TITAN_PLUGIN_API"
"""The module attribute in which a plugin declares the API versions it works with."""


class PluginApiDeprecationWarning(DeprecationWarning):
    """A plugin used a name of the plugin API that goes away in the next minor release."""


@dataclass(frozen=True)
class Deprecation:
    """A public name kept one minor release after it was replaced."""

    value: Any
    since: str  # the API version that deprecated it
    removed_in: str  # the API version without it (the next minor)
    instead: str  # what to use

    def warn(self, name: str) -> Any:
        warnings.warn(
            f"titan_core.plugin_api.{name} is deprecated since plugin API {self.since} and goes away in "
            f"{self.removed_in}; use {self.instead}",
            PluginApiDeprecationWarning,
            stacklevel=3,
        )
        return self.value


def requirement_problem(plugin: object) -> str:
    """Why `plugin` cannot run on this API version ("" if it can, or declares nothing)."""
    declared = getattr(plugin, REQUIREMENT_ATTRIBUTE, None)
    if declared is None:
        return ""
    if not isinstance(declared, str):
        return (
            f"{REQUIREMENT_ATTRIBUTE} is {declared!r}; declare the plugin API versions it works with "
            f'as a string of version specifiers, e.g. {REQUIREMENT_ATTRIBUTE} = ">=1.0,<2"'
        )
    try:
        wanted = SpecifierSet(declared)
    except InvalidSpecifier:
        return (
            f"{REQUIREMENT_ATTRIBUTE} {declared!r} is not a version range; write PEP 440 specifiers, "
            f'e.g. ">=1.0,<2"'
        )
    if Version(API_VERSION) in wanted:
        return ""
    return (
        f"needs plugin API {declared} ({REQUIREMENT_ATTRIBUTE}), but this Titan offers plugin API "
        f"{API_VERSION}: install a version of the plugin made for it, or a Titan whose API is in that range"
    )

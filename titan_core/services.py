"""Services: the route groups an instance serves. The core's `repository` (the Part 2 repository
routes) and whatever plugins declare with `titan_services` (a registry, a discovery), switched on
and off with the setting `services` (docs/plugins.md, "titan_services")."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from titan_core.settings import Settings

REPOSITORY_SERVICE = "repository"


@dataclass(frozen=True)
class Service:
    """A service a plugin implements: its `name` (as the setting `services` names it) and the
    `/description` profile URIs it implements (listed there only while it is enabled)."""

    name: str
    profiles: Sequence[str] = ()

    def __post_init__(self) -> None:
        if (
            not isinstance(self.name, str)
            or not self.name
            or not self.name.replace("_", "").replace("-", "").isalnum()
        ):
            raise ValueError(f"service name {self.name!r} is not valid: use letters, digits, '-' and '_'")
        if isinstance(self.profiles, str):
            raise TypeError(f"Service {self.name!r}: profiles must be a sequence of URIs, not one string")
        object.__setattr__(self, "profiles", tuple(self.profiles))


def serves(settings: Settings, name: str) -> bool:
    """Whether this instance serves the service `name`: every installed service when the setting
    `services` is empty (the default), else the ones it names. For plugins, in `titan_setup_app`."""
    return not settings.services or name in settings.services

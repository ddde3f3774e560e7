"""Services: the route groups an instance serves. The core's `repository` (the Part 2 repository
routes) and whatever plugins declare with `titan_services` (a registry, a discovery), switched on
and off with the setting `services` (docs/plugins.md, "titan_services")."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from titan_core.settings import Settings, SettingsError

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


@dataclass(frozen=True)
class EnabledServices:
    """The services this instance serves, and the `/description` profiles they implement."""

    names: frozenset[str]
    profiles: tuple[str, ...]

    def __contains__(self, name: object) -> bool:
        return name in self.names


def enabled_services(
    settings: Settings, declared: Mapping[str, Service], *, core_profiles: Sequence[str]
) -> EnabledServices:
    """The services the setting `services` enables among the core's and those plugins `declared`.

    Raises `SettingsError` for a name no installed service has, naming the installed ones.
    """
    installed = {REPOSITORY_SERVICE: Service(REPOSITORY_SERVICE, core_profiles), **declared}
    unknown = [name for name in settings.services if name not in installed]
    if unknown:
        raise SettingsError(
            f"setting 'services': unknown service(s) {', '.join(map(repr, unknown))}; the installed "
            f"services are: {', '.join(installed)} (a plugin's service needs the plugin installed and loaded)",
            setting="services",
        )
    names = settings.services or tuple(installed)
    profiles: dict[str, None] = {}  # ordered, without repeats
    for name in names:
        profiles.update(dict.fromkeys(installed[name].profiles))
    return EnabledServices(frozenset(names), tuple(profiles))

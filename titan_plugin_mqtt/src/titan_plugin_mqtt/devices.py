"""Per-device identity on write-back: which principal a write on a device topic is made as.

An MQTT 5 PUBLISH that reaches Titan's subscription carries the topic, the payload and the
publisher's own properties, never the publisher's client id or user name; a user property would be
the device's own claim. What the broker does guarantee is its ACL: with
`pattern write titan/device/%u/element/+/+/value` only the user `line1-gateway` can publish under
`titan/device/line1-gateway/…`. So the device's name is a topic level, the broker vouches for it,
and Titan maps it to a principal of its own (`mqtt.devices`: roles and scopes) that the Repository
checks and the audit trail (`titansubject`) names.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from titan_core.plugin_api import ALL_ROLES, ROLE_WRITER, Principal, SettingsError

# {prefix}/device/{name}/element/{b64url submodel id}/{idShortPath}/value
DEVICE_LEVEL = "device"
ENTRY_FORMAT = "<name>;role=<reader|writer|admin>[;role=…][;scope=<pattern>…]"
# One topic level that Mosquitto's %u substitution accepts: no wildcards, no '/', no leading '$'.
_NAME = re.compile(r"[^#+/$\x00-\x1f\x7f][^#+/\x00-\x1f\x7f]*\Z")


@dataclass(frozen=True)
class Device:
    """A configured device: its name (topic level and subject) and the principal it writes as."""

    name: str
    principal: Principal


def parse_device(entry: str) -> Device:
    """One `mqtt.devices` entry; `SettingsError` naming what is wrong and the accepted format."""
    name, *fields = [part.strip() for part in entry.strip().split(";")]
    if not _NAME.match(name):
        raise SettingsError(
            f"mqtt devices entry {entry!r}: the name {name!r} must be one topic level (the device's broker "
            f"user name) without '/', '#', '+', control characters or a leading '$'; format: {ENTRY_FORMAT}"
        )
    roles: set[str] = set()
    scopes: list[str] = []
    for field in fields:
        key, sep, value = (part.strip() for part in field.partition("="))
        if not sep or not value or key not in ("role", "scope"):
            raise SettingsError(
                f"mqtt devices entry {name}: {field!r} is not role=… or scope=…; format: {ENTRY_FORMAT}"
            )
        if key == "role":
            if value not in ALL_ROLES:
                raise SettingsError(
                    f"mqtt devices entry {name}: unknown role {value!r}; roles: {', '.join(sorted(ALL_ROLES))}"
                )
            roles.add(value)
        else:
            scopes.append(value)
    principal = Principal(subject=name, roles=frozenset(roles or {ROLE_WRITER}), scopes=tuple(scopes))
    return Device(name, principal)


def device_rules(entries: Iterable[str]) -> dict[str, Device]:
    """The configured devices by name; a name given twice is refused (which would win is unclear)."""
    devices: dict[str, Device] = {}
    for entry in entries:
        device = parse_device(entry)
        if device.name in devices:
            raise SettingsError(f"mqtt devices: the device {device.name!r} is listed twice")
        devices[device.name] = device
    return devices


def device_of(prefix: str, topic: str) -> str | None:
    """The device level of `{prefix}/device/{name}/…`, or None for any other topic."""
    head = f"{prefix}/{DEVICE_LEVEL}/"
    if not topic.startswith(head):
        return None
    return topic[len(head) :].split("/", 1)[0]

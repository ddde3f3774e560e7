"""Entity kinds: the `titanentity` values events carry, the core's four and those plugins declare.

A plugin that owns state (a registry's shell descriptors, a discovery's asset links) declares its
kinds with the `titan_entity_kinds` hook; its changes then go through the outbox like the core's.
Envelope building, its schema, the Event Feed's types, filters and the transports' topics all ask
this module, so a registered kind is known everywhere at once.

The registry is process-wide, not per application. A kind is a static declaration of a plugin's
code (a name and its REST collection), the same in every app the process builds (tests build many
with different plugins), and the pure event layer that needs it has no app to look it up in. So
registering is idempotent (the same declaration again is a no-op) and refuses a conflicting
redefinition: two meanings of one `titanentity` in one process would make events ambiguous.
Knowing a kind no app of the process uses costs nothing: only its events carry it.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from titan_core.eventtypes.change import Change

CORE_COLLECTIONS: Mapping[str, str] = MappingProxyType({
    "shell": "/shells/",
    "submodel": "/submodels/",
    "element": "/submodels/",
    "concept_description": "/concept-descriptions/",
})  # fmt: skip
CORE_ENTITIES: tuple[str, ...] = tuple(CORE_COLLECTIONS)

# At most 32 characters: the Event Feed type (`io.admin-shell.<name in camelCase>.created.v1`) is
# stored in a column of 64.
_NAME = re.compile(r"[a-z][a-z_]{0,31}")
# A collection is the path of a REST collection, as the source of an event starts with it.
_COLLECTION = re.compile(r"/(?:[A-Za-z0-9._~-]+/)+")


@dataclass(frozen=True)
class EntityKind:
    """A kind of entity a plugin owns: `name` is the events' `titanentity`, `collection` the REST
    collection their `source` starts with (`source` = collection + base64url(identifier)).

    `EntityKind("shell_descriptor", "/shell-descriptors/")`
    """

    name: str
    collection: str

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME.fullmatch(self.name):
            raise ValueError(
                f"entity kind name {self.name!r} is not valid: use lower-case letters and '_', "
                "starting with a letter, at most 32 characters (e.g. 'shell_descriptor')"
            )
        if not isinstance(self.collection, str) or not _COLLECTION.fullmatch(self.collection):
            raise ValueError(
                f"entity kind {self.name!r}: collection {self.collection!r} is not valid: use a path "
                "that starts and ends with '/' (e.g. '/shell-descriptors/')"
            )

    @property
    def feed_resource(self) -> str:
        """The resource part of the Event Feed type: camelCase of the name (`shellDescriptor`)."""
        head, *rest = self.name.split("_")
        return head + "".join(part.capitalize() for part in rest if part)


class EntityKindConflict(ValueError):
    """A kind is declared twice with different meanings, or redefines one of the core's."""


_lock = threading.Lock()
_registered: dict[str, tuple[EntityKind, str]] = {}  # name -> (kind, who declared it)


def register_entity_kinds(kinds: Iterable[EntityKind], *, owner: str) -> None:
    """Add `kinds` (declared by `owner`, a plugin's name) to the process's kinds; all or none.

    Raises `EntityKindConflict` for a core kind's name or a name registered with another collection.
    """
    kinds = list(kinds)
    with _lock:
        pending: dict[str, EntityKind] = {}
        for kind in kinds:
            if not isinstance(kind, EntityKind):
                raise TypeError(f"{kind!r} is not an EntityKind")
            if kind.name in CORE_COLLECTIONS:
                raise EntityKindConflict(
                    f"entity kind {kind.name!r} is one of the core's and cannot be redefined"
                )
            known = _registered.get(kind.name)
            earlier = known[0] if known else pending.get(kind.name)
            if earlier is not None and earlier != kind:
                by = known[1] if known else owner
                raise EntityKindConflict(
                    f"entity kind {kind.name!r} is already registered by {by} with collection "
                    f"{earlier.collection!r}; {owner} declares it with {kind.collection!r}"
                )
            pending[kind.name] = kind
        for name, kind in pending.items():
            _registered.setdefault(name, (kind, owner))


def plugin_entity_kinds() -> tuple[EntityKind, ...]:
    """The kinds plugins registered in this process, in the order they were registered."""
    return tuple(kind for kind, _ in list(_registered.values()))


def entity_names() -> tuple[str, ...]:
    """Every `titanentity` value: the core's four, then the registered kinds."""
    return CORE_ENTITIES + tuple(_registered)


def is_entity(name: object) -> bool:
    return name in CORE_COLLECTIONS or name in _registered


def collection_of(entity: str) -> str:
    """The REST collection of `entity`'s sources; KeyError for an unknown kind."""
    collection = CORE_COLLECTIONS.get(entity)
    if collection is not None:
        return collection
    return _registered[entity][0].collection


def plugin_kind(entity: str) -> EntityKind | None:
    """The registered kind of that name, None for a core kind or an unknown name."""
    found = _registered.get(entity)
    return found[0] if found else None


def check_plugin_change(change: Change) -> None:
    """Raise ValueError unless a plugin may record `change`: one of a registered plugin kind (the
    core's entities change only through the Repository's writes), `created`, `updated` or `deleted`,
    without an idShortPath (only elements have one)."""
    if change.entity in CORE_COLLECTIONS:
        raise ValueError(
            f"a plugin records changes of its own entity kinds, not {change.entity!r}: the core's "
            "entities change through the Repository's writes, which record their own events"
        )
    if change.entity not in _registered:
        registered = ", ".join(_registered) or "none"
        raise ValueError(
            f"a change of entity {change.entity!r} cannot be recorded: no plugin registered that kind "
            f"(titan_entity_kinds); registered: {registered}"
        )
    if change.type not in ("created", "updated", "deleted"):
        raise ValueError(f"a {change.entity} change is created, updated or deleted, not {change.type!r}")
    if change.path is not None:
        raise ValueError(f"a {change.entity} change has no path (only element changes do)")

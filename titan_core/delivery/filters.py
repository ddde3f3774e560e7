"""Event filters shared by `GET /events` and the WebSocket subscriptions (DESIGN §4).

Keys: `entity_types`, `ids`, `shell_ids`, `paths`, `types`, `semantic_ids`. AND across keys, OR
within a key's list; a key left out does not filter. `paths` are idShortPath prefixes on segment
boundaries (`a.b` covers `a.b`, `a.b.c` and `a.b[0]`, not `a.bc`) and match element events only.
`shell_ids` match the shell's own events and those of the submodels it references.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from titan_core.auth import Principal
from titan_core.errors import BadRequest, NotFound
from titan_core.eventtypes.envelope import EVENT_TYPE_PREFIX, EVENT_TYPES, short_type
from titan_core.eventtypes.kinds import entity_names
from titan_core.model.paths import format_id_short_path, parse_id_short_path
from titan_core.store.documents import last_key_value

FILTER_KEYS = ("entity_types", "ids", "shell_ids", "paths", "types", "semantic_ids")
# Keys whose values may be comma-separated in a query string (their values never contain a comma).
# Identifiers and semantic ids may contain commas, so they are given one per parameter.
COMMA_SEPARATED_KEYS = frozenset({"entity_types", "paths", "types"})


class ShellReader(Protocol):
    """What `EventFilter.resolve` needs of the Repository."""

    async def get(self, kind: Any, identifier: str, *, principal: Principal) -> Any: ...


@dataclass
class EventFilter:
    entity_types: frozenset[str] | None = None
    ids: frozenset[str] | None = None
    shell_ids: frozenset[str] | None = None
    paths: tuple[str, ...] | None = None
    types: frozenset[str] | None = None
    semantic_ids: frozenset[str] | None = None
    # shell_ids: the submodels those shells reference (filled by `resolve`, extended by shell events).
    _shell_submodels: set[str] = field(default_factory=set)

    @property
    def is_empty(self) -> bool:
        return all(getattr(self, key) is None for key in FILTER_KEYS)

    async def resolve(self, repository: ShellReader, reader: Principal) -> None:
        """Look up the submodels referenced by the `shell_ids` shells (unknown shells are no error),
        as `reader` (whose scopes the caller checked against `shell_ids`)."""
        for shell_id in self.shell_ids or ():
            try:
                shell = (await repository.get("shell", shell_id, principal=reader)).document()
            except NotFound:
                continue
            self._shell_submodels.update(_referenced_submodels(shell))

    def matches(self, envelope: Mapping[str, Any]) -> bool:
        if self.entity_types is not None and envelope.get("titanentity") not in self.entity_types:
            return False
        if self.ids is not None and envelope.get("titanid") not in self.ids:
            return False
        if self.types is not None and short_type(str(envelope.get("type"))) not in self.types:
            return False
        if self.semantic_ids is not None and envelope.get("semanticid") not in self.semantic_ids:
            return False
        if self.paths is not None:
            path = envelope.get("titanpath")
            if not isinstance(path, str) or not any(_covers(prefix, path) for prefix in self.paths):
                return False
        if self.shell_ids is not None:
            return self._matches_shells(envelope)
        return True

    def _matches_shells(self, envelope: Mapping[str, Any]) -> bool:
        identifier = envelope.get("titanid")
        entity = envelope.get("titanentity")
        if entity == "shell" and identifier in (self.shell_ids or ()):
            data = envelope.get("data")
            # A shell's new references count from now on; earlier ones still count (never narrowed).
            if isinstance(data, dict) and short_type(str(envelope.get("type"))) != "deleted":
                self._shell_submodels.update(_referenced_submodels(data))
            return True
        return entity in ("submodel", "element") and identifier in self._shell_submodels


def _covers(prefix: str, path: str) -> bool:
    return path == prefix or (path.startswith(prefix) and path[len(prefix)] in ".[")


def _referenced_submodels(shell: Mapping[str, Any]) -> set[str]:
    found = set()
    for reference in shell.get("submodels") or ():
        identifier = last_key_value(reference)
        if identifier is not None:
            found.add(identifier)
    return found


def parse_filter(values: Mapping[str, Iterable[str]], *, where: str = "filter") -> EventFilter:
    """A filter from key -> list of strings; `BadRequest` names the key and what it accepts."""
    unknown = sorted(set(values) - set(FILTER_KEYS))
    if unknown:
        raise BadRequest(f"unknown {where} key {unknown[0]!r}; accepted: {', '.join(FILTER_KEYS)}")
    parsed: dict[str, Any] = {}
    for key, raw in values.items():
        items = [item for item in raw]
        if any(not isinstance(item, str) or not item for item in items):
            raise BadRequest(f"{where} key {key!r} takes non-empty strings")
        if not items:
            raise BadRequest(f"{where} key {key!r} has an empty list: leave the key out to not filter on it")
        parsed[key] = _checked(key, items, where)
    return EventFilter(**parsed)


def parse_filter_query(query: Mapping[str, str] | Any, *, skip: Iterable[str] = ()) -> EventFilter:
    """A filter from query parameters (a MultiDict): repeated parameters, or comma-separated lists for
    `entity_types`, `paths` and `types`. Parameters in `skip` belong to the caller."""
    skipped = set(skip)
    values: dict[str, list[str]] = {}
    for key, value in query.items():
        if key in skipped:
            continue
        parts = value.split(",") if key in COMMA_SEPARATED_KEYS else [value]
        values.setdefault(key, []).extend(part.strip() for part in parts)
    return parse_filter(values, where="query parameter")


def parse_filter_json(document: Any) -> EventFilter:
    """A filter from the JSON object of a subscription (`{"ids": ["…"], "types": ["valueChanged"]}`)."""
    if document is None:
        return EventFilter()
    if not isinstance(document, dict):
        raise BadRequest("filter must be a JSON object with lists of strings")
    values: dict[str, list[str]] = {}
    for key, raw in document.items():
        if isinstance(raw, str):
            raw = [raw]
        if not isinstance(raw, list):
            raise BadRequest(f"filter key {key!r} takes a list of strings")
        values[str(key)] = raw
    return parse_filter(values, where="filter")


def _checked(key: str, items: list[str], where: str) -> Any:
    if key == "entity_types":
        _only(key, items, entity_names(), where)
        return frozenset(items)
    if key == "types":
        names = [item.removeprefix(EVENT_TYPE_PREFIX) for item in items]
        _only(key, names, EVENT_TYPES, where)
        return frozenset(names)
    if key == "paths":
        try:
            return tuple(format_id_short_path(parse_id_short_path(item)) for item in items)
        except BadRequest as exc:
            raise BadRequest(f"{where} key 'paths': {exc.message}") from None
    return frozenset(items)


def _only(key: str, items: list[str], accepted: tuple[str, ...], where: str) -> None:
    for item in items:
        if item not in accepted:
            raise BadRequest(f"{where} key {key!r}: {item!r} is not accepted; use {', '.join(accepted)}")

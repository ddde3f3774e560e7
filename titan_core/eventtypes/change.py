"""A `Change`: one state change a Repository write made, before it becomes an event.

The store produces changes and records them in its transaction (the outbox turns each into a
CloudEvents envelope, `envelope.py`); nothing here knows about the database or the transports.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

ChangeType = Literal["created", "updated", "deleted", "valueChanged"]
# The core's four, or a kind a plugin registered (`titan_entity_kinds`, kinds.py).
Entity = str


@dataclass(frozen=True)
class Change:
    """One state change a write made, in the shape the event layer turns into an envelope."""

    type: ChangeType
    # "shell", "submodel", "element", "concept_description", or a registered plugin kind.
    entity: Entity
    identifier: str
    # idShortPath, for elements only.
    path: str | None = None
    semantic_id: str | None = None
    data: Any = None
    extra: dict[str, Any] = field(default_factory=dict)
    # valueChanged only: the whole element after the change. `data` holds just its value (the titan
    # profile); the async-aas and BaSyx profiles send the element, so the outbox keeps it beside.
    element: dict[str, Any] | None = None

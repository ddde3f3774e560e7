"""What the Repository hands out: stored identifiables, pages of them, attachments.

The changes its writes make are `titan_core.eventtypes.change.Change`, a layer below.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar

Kind = Literal["shell", "submodel", "concept_description"]
KINDS: tuple[Kind, ...] = ("shell", "submodel", "concept_description")

KIND_LABELS: dict[Kind, str] = {
    "shell": "Asset Administration Shell",
    "submodel": "Submodel",
    "concept_description": "Concept Description",
}


@dataclass(frozen=True)
class StoredDocument:
    """A stored JSON document as a store hands it out: its row's primary key `pk`, the document's
    `identifier`, its `version` (counted up by every write) and `body`, its JSON text, ready to
    send. The base of the core's `StoredIdentifiable` and of a plugin's own records (frozen
    dataclasses adding their fields), so that every document Titan serves has an ETag of one form."""

    pk: int
    identifier: str
    version: int
    body: str

    @property
    def etag(self) -> str:
        # pk distinguishes a re-created document from its deleted namesake of the same version.
        return f'"{self.pk}-{self.version}"'

    def document(self) -> dict[str, Any]:
        """A fresh dict of the body (callers may mutate it)."""
        result: dict[str, Any] = json.loads(self.body)
        return result


@dataclass(frozen=True)
class StoredIdentifiable(StoredDocument):
    """One identifiable as stored: `body` is its verified Part 2 JSON text."""

    kind: Kind
    has_blob_values: bool


StoredT = TypeVar("StoredT", bound=StoredDocument)


@dataclass(frozen=True)
class Page(Generic[StoredT]):
    """One page of a listing: the core's `Page[StoredIdentifiable]`, a plugin's of its own records."""

    items: list[StoredT]
    # Opaque cursor for the next page, None on the last page.
    next_cursor: str | None


@dataclass(frozen=True)
class Attachment:
    content_type: str
    file_name: str
    data: bytes

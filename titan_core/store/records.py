"""What the Repository hands out: stored identifiables, pages of them, attachments.

The changes its writes make are `titan_core.eventtypes.change.Change`, a layer below.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

Kind = Literal["shell", "submodel", "concept_description"]
KINDS: tuple[Kind, ...] = ("shell", "submodel", "concept_description")

KIND_LABELS: dict[Kind, str] = {
    "shell": "Asset Administration Shell",
    "submodel": "Submodel",
    "concept_description": "Concept Description",
}


@dataclass(frozen=True)
class StoredIdentifiable:
    """One identifiable as stored: `body` is its verified Part 2 JSON text, ready to send."""

    pk: int
    kind: Kind
    identifier: str
    version: int
    body: str
    has_blob_values: bool

    @property
    def etag(self) -> str:
        # pk distinguishes a re-created identifiable from its deleted namesake of the same version.
        return f'"{self.pk}-{self.version}"'

    def document(self) -> dict[str, Any]:
        """A fresh dict of the body (callers may mutate it)."""
        result: dict[str, Any] = json.loads(self.body)
        return result


@dataclass(frozen=True)
class Page:
    items: list[StoredIdentifiable]
    # Opaque cursor for the next page, None on the last page.
    next_cursor: str | None


@dataclass(frozen=True)
class Attachment:
    content_type: str
    file_name: str
    data: bytes

"""The refusals every write path shares: a missing identifiable, and an If-Match that does not match."""

from __future__ import annotations

from titan_core.errors import NotFound, PreconditionFailed
from titan_core.store.records import KIND_LABELS, Kind, StoredIdentifiable


def not_found(kind: Kind, identifier: str) -> NotFound:
    return NotFound(f"{KIND_LABELS[kind]} with id {identifier!r} not found")


def check_if_match(
    kind: Kind, identifier: str, current: StoredIdentifiable | None, if_match: str | None
) -> None:
    """Raise `PreconditionFailed` unless `if_match` (absent: no condition) matches `current`."""
    if if_match is None:
        return
    if current is None:
        raise PreconditionFailed(
            f"If-Match {if_match} does not match: {KIND_LABELS[kind]} {identifier!r} does not exist"
        )
    check_etag(kind, identifier, current.etag, if_match)


def check_etag(kind: Kind, identifier: str, etag: str, if_match: str | None) -> None:
    """The same against an ETag (the group commit's, which counts the batch's earlier writes)."""
    if if_match is None:
        return
    candidates = [tag.strip() for tag in if_match.split(",")]
    if "*" in candidates:
        return
    # Weak comparison is not allowed for If-Match (RFC 9110 §13.1.1), but a W/ prefix added by a
    # proxy should not make a client's write fail, so it is ignored.
    normalised = {tag.removeprefix("W/") for tag in candidates}
    if etag not in normalised:
        raise PreconditionFailed(
            f"If-Match {if_match} does not match the current ETag {etag} of "
            f"{KIND_LABELS[kind]} {identifier!r}: it was changed by someone else; read it again"
        )

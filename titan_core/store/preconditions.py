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
    check_precondition(f"{KIND_LABELS[kind]} {identifier!r}", current.etag if current else None, if_match)


def check_etag(kind: Kind, identifier: str, etag: str, if_match: str | None) -> None:
    """The same against an ETag (the group commit's, which counts the batch's earlier writes)."""
    check_precondition(f"{KIND_LABELS[kind]} {identifier!r}", etag, if_match)


def etag_matches(etag: str, if_match: str) -> bool:
    """Whether an `If-Match` header value (a list of entity tags, or `*`) matches `etag`."""
    candidates = [tag.strip() for tag in if_match.split(",")]
    if "*" in candidates:
        return True
    # Weak comparison is not allowed for If-Match (RFC 9110 §13.1.1), but a W/ prefix added by a
    # proxy should not make a client's write fail, so it is ignored.
    return etag in {tag.removeprefix("W/") for tag in candidates}


def check_precondition(what: str, etag: str | None, if_match: str | None) -> None:
    """Raise `PreconditionFailed` (412) unless `if_match` (None: no condition) matches the current
    `etag` of `what` (None: it does not exist); `what` names it in the message."""
    if if_match is None:
        return
    if etag is None:
        raise PreconditionFailed(f"If-Match {if_match} does not match: {what} does not exist")
    if not etag_matches(etag, if_match):
        raise PreconditionFailed(
            f"If-Match {if_match} does not match the current ETag {etag} of "
            f"{what}: it was changed by someone else; read it again"
        )

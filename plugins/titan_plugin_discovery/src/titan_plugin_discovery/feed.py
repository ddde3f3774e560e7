"""Keeps the derived links in step with the repository's shells, inside each shell write's transaction.

Called by the `titan_write_transaction` hook with the changes a write made, on the write's own
connection: the links commit (or roll back) with the shell, so discovery never answers with a shell
that is not stored, nor misses one that is. Manual links are left alone, except when the shell is
deleted: then every link of its id goes, as nothing is left for them to find.

A write may carry many shells (`titan load` imports a whole environment in one transaction), so the
work is done in chunks of shells with three statements each (read their rows, delete what changed,
insert the new rows), not a few statements per shell. Each shell gets at most one asset_link change
per write: from its links before the write to its links after it.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.engine import Connection

from titan_core.plugin_api import Change
from titan_plugin_discovery import store
from titan_plugin_discovery.changes import link_change
from titan_plugin_discovery.links import AssetLink, derived_links

# Shell ids per statement: well below SQLite's and PostgreSQL's limits on bound parameters.
_CHUNK = 500


def follow_shell_changes(connection: Connection, changes: Sequence[Change]) -> list[Change]:
    """Update the derived links for every shell change in `changes`; the asset_link changes made."""
    # The state this write leaves each shell in: its last change wins; None: deleted.
    final: dict[str, list[AssetLink] | None] = {}
    for change in changes:
        if change.entity != "shell":
            continue
        if change.type == "deleted":
            final[change.identifier] = None
        elif change.type in ("created", "updated"):
            final[change.identifier] = derived_links(change.data)
    made: list[Change] = []
    shell_ids = list(final)
    for start in range(0, len(shell_ids), _CHUNK):
        made += apply_links(
            connection, {shell_id: final[shell_id] for shell_id in shell_ids[start : start + _CHUNK]}
        )
    return made


def apply_links(connection: Connection, wanted: dict[str, list[AssetLink] | None]) -> list[Change]:
    """Make the derived links of each shell id in `wanted` its links (None: the shell is gone, so
    every link of its id goes), in three statements; the asset_link changes made. Shells whose
    derived links are already these are not written. Also the start-up back-fill's (backfill.py)."""
    stored = store.rows_of(connection, list(wanted))
    forgotten: list[str] = []
    rederived: list[str] = []
    new_rows: list[store.LinkRow] = []
    made: list[Change] = []
    for shell_id, links in wanted.items():
        before = stored.get(shell_id, [])
        if links is None:
            after: list[store.LinkRow] = []
            forgotten.append(shell_id)
        else:
            derived = store.link_rows(shell_id, store.DERIVED, links)
            # Most shell writes (a thumbnail, a submodel reference, an idShort) leave the asset ids
            # as they were: no write, no event.
            if derived_rows(before) == derived:
                continue
            rederived.append(shell_id)
            new_rows += derived
            after = [row for row in before if row.source != store.DERIVED] + derived
        change = link_change(shell_id, store.served(before), store.served(after))
        if change is not None:
            made.append(change)
    store.delete_links(connection, [shell_id for shell_id in forgotten if shell_id in stored])
    store.delete_links(connection, [shell_id for shell_id in rederived if shell_id in stored], store.DERIVED)
    store.insert_rows(connection, new_rows)
    return made


def derived_rows(rows: list[store.LinkRow]) -> list[store.LinkRow]:
    """The derived rows among one shell id's `rows`, in their order (as `store.link_rows` makes them)."""
    return sorted((row for row in rows if row.source == store.DERIVED), key=_position)


def _position(row: store.LinkRow) -> int:
    return row.position

"""Keeps the derived links in step with the repository's shells, inside each shell write's transaction.

Called by the `titan_write_transaction` hook with the changes a write made, on the write's own
connection: the links commit (or roll back) with the shell, so discovery never answers with a shell
that is not stored, nor misses one that is. Manual links are left alone, except when the shell is
deleted: then every link of its id goes, as nothing is left for them to find.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.engine import Connection

from titan_core.plugin_api import Change
from titan_plugin_discovery import store
from titan_plugin_discovery.changes import link_change
from titan_plugin_discovery.links import derived_links


def follow_shell_changes(connection: Connection, changes: Sequence[Change]) -> list[Change]:
    """Update the derived links for every shell change in `changes`; the asset_link changes made."""
    made: list[Change] = []
    for change in changes:
        if change.entity != "shell":
            continue
        if change.type == "deleted":
            found = _forget(connection, change.identifier)
        elif change.type in ("created", "updated"):
            found = _rederive(connection, change.identifier, change.data)
        else:
            continue
        if found is not None:
            made.append(found)
    return made


def _rederive(connection: Connection, shell_id: str, shell: object) -> Change | None:
    links = derived_links(shell)
    wanted = [(link.name, link.value, store.dump_body(link.body)) for link in links]
    # Most shell writes (a thumbnail, a submodel reference, an idShort) leave the asset ids as they
    # were: one indexed read, no write, no event.
    if store.stored_derived(connection, shell_id) == wanted:
        return None
    before = store.links_now(connection, shell_id)
    store.replace_source(connection, shell_id, store.DERIVED, links)
    return link_change(shell_id, before, store.links_now(connection, shell_id))


def _forget(connection: Connection, shell_id: str) -> Change | None:
    before = store.links_now(connection, shell_id)
    if not before:
        return None
    store.forget_shell(connection, shell_id)
    return link_change(shell_id, before, [])

"""The events of asset links: one `asset_link` change whenever the links served for a shell id change.

Entity kind `asset_link` (collection "/lookup/shells/", identifier: the shell id). `data` holds the
links served after the change (as `GET /lookup/shells/{aasIdentifier}` answers), or, for `deleted`,
the links there were before.
"""

from __future__ import annotations

from titan_core.plugin_api import Change, EntityKind
from titan_plugin_discovery.store import SpecificAssetIds

ENTITY = "asset_link"
ENTITY_KIND = EntityKind(name=ENTITY, collection="/lookup/shells/")


def link_change(shell_id: str, before: SpecificAssetIds, after: SpecificAssetIds) -> Change | None:
    """The change from `before` to `after`, or None when the served links are the same."""
    if before == after:
        return None
    if not before:
        return Change(type="created", entity=ENTITY, identifier=shell_id, data=after)
    if not after:
        return Change(type="deleted", entity=ENTITY, identifier=shell_id, data=before)
    return Change(type="updated", entity=ENTITY, identifier=shell_id, data=after)

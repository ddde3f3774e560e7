"""The write hook's work on a connection, without a server: what a batch of shell changes does to
the derived links and which asset_link changes it returns (as `titan load` hands it a whole import)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import create_engine
from sqlalchemy.engine import Connection
from titan_plugin_discovery import store
from titan_plugin_discovery.feed import follow_shell_changes
from titan_plugin_discovery.links import AssetLink
from titan_plugin_discovery.tables import metadata

from titan_core.plugin_api import Change


@pytest.fixture
def connection() -> Iterator[Connection]:
    engine = create_engine("sqlite://")
    metadata.create_all(engine)
    with engine.begin() as connection:
        yield connection
    engine.dispose()


def shell_change(kind: Any, shell_id: str, global_asset_id: str | None = None) -> Change:
    information = {"assetKind": "Instance", **({"globalAssetId": global_asset_id} if global_asset_id else {})}
    return Change(
        type=kind, entity="shell", identifier=shell_id, data={"id": shell_id, "assetInformation": information}
    )


def test_a_batch_of_shell_changes_leaves_the_last_state_with_one_change_per_shell(
    connection: Connection,
) -> None:
    changes = [
        shell_change("created", "urn:a", "urn:asset:a"),
        shell_change("created", "urn:b"),  # no asset id: no link, no event
        Change(type="valueChanged", entity="element", identifier="urn:sm", path="x", data=1),
        shell_change("updated", "urn:a", "urn:asset:a2"),
        shell_change("updated", "urn:a", "urn:asset:a2"),  # the same again: nothing
    ]

    made = follow_shell_changes(connection, changes)

    # One change per shell and write: from its links before the write to its links after it.
    assert [(change.type, change.entity, change.identifier, change.data) for change in made] == [
        ("created", "asset_link", "urn:a", [{"name": "globalAssetId", "value": "urn:asset:a2"}]),
    ]
    again = follow_shell_changes(connection, [shell_change("updated", "urn:a", "urn:asset:a3")])
    assert [(change.type, change.data) for change in again] == [
        ("updated", [{"name": "globalAssetId", "value": "urn:asset:a3"}])
    ]
    assert store.links_now(connection, "urn:a") == [{"name": "globalAssetId", "value": "urn:asset:a3"}]
    assert store.links_now(connection, "urn:b") == []


def test_a_deleted_shell_takes_every_link_of_its_id(connection: Connection) -> None:
    follow_shell_changes(connection, [shell_change("created", "urn:a", "urn:asset:a")])
    manual = AssetLink("lot", "L1", {"name": "lot", "value": "L1"})
    store.replace_source(connection, "urn:a", store.MANUAL, [manual])

    made = follow_shell_changes(
        connection, [Change(type="deleted", entity="shell", identifier="urn:a", data={})]
    )

    assert [(change.type, change.data) for change in made] == [
        ("deleted", [{"name": "globalAssetId", "value": "urn:asset:a"}, {"name": "lot", "value": "L1"}])
    ]
    assert store.links_now(connection, "urn:a") == []
    assert (
        follow_shell_changes(connection, [Change(type="deleted", entity="shell", identifier="urn:a")]) == []
    )

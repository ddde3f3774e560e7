"""Reads and writes of `discovery_asset_links`, on whichever connection the caller's transaction has.

Writes are synchronous (`sqlalchemy.engine.Connection`): the write hook runs inside the core's
transaction on such a connection, and the Discovery API's own writes run them through
`AsyncConnection.run_sync`, so one function serves both. Reads are asynchronous.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from typing import Any, NamedTuple

from sqlalchemy import Integer, Text, bindparam, delete, exists, insert, select
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import Select

from titan_core.plugin_api import Repository
from titan_plugin_discovery.links import AssetLink
from titan_plugin_discovery.tables import DERIVED, MANUAL, asset_links

SpecificAssetIds = list[dict[str, Any]]


class LinkRow(NamedTuple):
    """One row of the table, as read or about to be written."""

    shell_id: str
    source: str
    position: int
    name: str
    value: str
    body: str


def link_rows(shell_id: str, source: str, links: Sequence[AssetLink]) -> list[LinkRow]:
    return [
        LinkRow(shell_id, source, position, link.name, link.value, dump_body(link.body))
        for position, link in enumerate(links)
    ]


def rows_of(connection: Connection, shell_ids: Sequence[str]) -> dict[str, list[LinkRow]]:
    """Every row of these shell ids (one query), by shell id."""
    table = asset_links
    found: dict[str, list[LinkRow]] = {}
    if shell_ids:
        query = select(*(table.c[name] for name in LinkRow._fields)).where(table.c.shell_id.in_(shell_ids))
        for row in connection.execute(query):
            found.setdefault(row.shell_id, []).append(LinkRow(*row))
    return found


def delete_links(connection: Connection, shell_ids: Sequence[str], source: str | None = None) -> None:
    """Remove the links of these shell ids: of one source, or (None) all of them."""
    if shell_ids:
        statement = delete(asset_links).where(asset_links.c.shell_id.in_(shell_ids))
        if source is not None:
            statement = statement.where(asset_links.c.source == source)
        connection.execute(statement)


def insert_rows(connection: Connection, rows: Sequence[LinkRow]) -> None:
    if rows:
        connection.execute(insert(asset_links), [row._asdict() for row in rows])


def served(rows: Sequence[Any]) -> SpecificAssetIds:
    """The links served for one shell id from its rows (source, body): the derived ones first, then
    the manual ones, each (name, value) once."""
    ordered = sorted(rows, key=lambda row: (row.source != DERIVED, row.position))
    seen: set[tuple[Any, Any]] = set()
    bodies = []
    for row in ordered:
        body = json.loads(row.body)
        key = (row.name, row.value)
        if key not in seen:
            seen.add(key)
            bodies.append(body)
    return bodies


def dump_body(body: dict[str, Any]) -> str:
    """A link's SpecificAssetId as stored: compact JSON, so equal links store equal text."""
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False)


def _rows_query(shell_id: str) -> Select[Any]:
    table = asset_links
    return select(table.c.source, table.c.position, table.c.name, table.c.value, table.c.body).where(
        table.c.shell_id == shell_id
    )


def links_now(connection: Connection, shell_id: str) -> SpecificAssetIds:
    return served(connection.execute(_rows_query(shell_id)).all())


async def read_links(connection: AsyncConnection, shell_id: str) -> SpecificAssetIds:
    return served((await connection.execute(_rows_query(shell_id))).all())


def source_is_empty(connection: Connection, shell_id: str, source: str) -> bool:
    table = asset_links
    found = connection.execute(
        select(table.c.position).where(table.c.shell_id == shell_id, table.c.source == source).limit(1)
    ).first()
    return found is None


def replace_source(connection: Connection, shell_id: str, source: str, links: Sequence[AssetLink]) -> None:
    """Make `links` the links of `source` (DERIVED or MANUAL) for `shell_id`; the other source stays."""
    delete_links(connection, [shell_id], source)
    insert_rows(connection, link_rows(shell_id, source, links))


@functools.lru_cache(maxsize=64)
def shell_ids_query(link_count: int, paged_on: bool) -> Select[Any]:
    """The statement for the shell ids that have `link_count` given links (all of them), after the
    parameter `after` when `paged_on`, in order, at most `limit`; parameters `name0`, `value0`, ….

    The first link is an index range on (name, value) that yields shell ids sorted; each further
    link is an EXISTS probe on the same index. Without links: every shell id with any link. Built
    once per shape: a lookup only binds its values (building the statement cost more than running it).
    """
    table = asset_links
    query = select(table.c.shell_id).distinct()
    for index in range(link_count):
        name = bindparam(f"name{index}", type_=Text)
        value = bindparam(f"value{index}", type_=Text)
        if index == 0:
            query = query.where(table.c.name == name, table.c.value == value)
        else:
            other = asset_links.alias(f"also{index}")
            query = query.where(
                exists().where(
                    other.c.shell_id == table.c.shell_id, other.c.name == name, other.c.value == value
                )
            )
    if paged_on:
        query = query.where(table.c.shell_id > bindparam("after", type_=Text))
    return query.order_by(table.c.shell_id).limit(bindparam("limit", type_=Integer))


async def find_shell_ids(
    repository: Repository, links: Sequence[tuple[str, str]], after: str | None, limit: int
) -> list[str]:
    """One statement, no transaction (`Repository.fetch`): a lookup is the Discovery's hot read."""
    parameters: dict[str, Any] = {"limit": limit}
    if after is not None:
        parameters["after"] = after
    for index, (name, value) in enumerate(links):
        parameters[f"name{index}"], parameters[f"value{index}"] = name, value
    rows = await repository.fetch(shell_ids_query(len(links), after is not None), parameters)
    return [row[0] for row in rows]


__all__ = [
    "DERIVED",
    "MANUAL",
    "AssetLink",
    "LinkRow",
    "delete_links",
    "dump_body",
    "find_shell_ids",
    "insert_rows",
    "link_rows",
    "links_now",
    "read_links",
    "replace_source",
    "rows_of",
    "served",
    "source_is_empty",
]

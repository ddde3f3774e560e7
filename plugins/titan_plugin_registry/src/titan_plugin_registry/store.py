"""Descriptor rows: read, list by cursor, insert, update, delete (SQLAlchemy Core, SQLite and PostgreSQL).

Only statements on a connection the caller holds: the write transaction (and its events) belong to
`registry.py`, which opens it through the core's `Repository.transaction`.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Integer,
    Row,
    Select,
    Table,
    Text,
    bindparam,
    delete,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from titan_core.plugin_api import (
    Conflict,
    Principal,
    Repository,
    StoredDocument,
    decode_cursor,
    encode_cursor,
)
from titan_plugin_registry.descriptors import LABEL, DescriptorKind, semantic_id_of, shell_columns
from titan_plugin_registry.tables import shell_descriptors, submodel_descriptors

TABLES: dict[DescriptorKind, Table] = {
    "shell_descriptor": shell_descriptors,
    "submodel_descriptor": submodel_descriptors,
}


@dataclass(frozen=True)
class StoredDescriptor(StoredDocument):
    """One descriptor as stored; `pk` is its row's `seq`, so its ETag (`"seq-version"`) tells a
    descriptor registered again apart from its deleted namesake of the same version."""

    kind: DescriptorKind


@dataclass(frozen=True, slots=True)
class BodyPage:
    """A page of descriptors as served: their stored JSON texts, and the cursor of the next page."""

    bodies: list[str]
    next_cursor: str | None


@dataclass(frozen=True)
class ShellFilter:
    """The filters of `GET /shell-descriptors` (both optional, ANDed)."""

    asset_kind: str | None = None
    asset_type: str | None = None


@dataclass(frozen=True)
class Listing:
    """Which page of a collection: at most `limit` descriptors from `cursor` on (None: the first)."""

    limit: int
    cursor: str | None = None
    shell_filter: ShellFilter | None = None


def dumps(document: Any) -> str:
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False)


def _descriptor(kind: DescriptorKind, row: Sequence[Any]) -> StoredDescriptor:
    # `row`: seq, identifier, version and body, in this order.
    return StoredDescriptor(row[0], row[1], row[2], row[3], kind=kind)


def _columns(kind: DescriptorKind, document: dict[str, Any]) -> dict[str, Any]:
    if kind == "shell_descriptor":
        columns = shell_columns(document)
        return {
            "id_short": columns.id_short,
            "asset_kind": columns.asset_kind,
            "asset_type": columns.asset_type,
            "global_asset_id": columns.global_asset_id,
        }
    return {"id_short": document.get("idShort"), "semantic_id": semantic_id_of(document)}


@functools.cache
def _by_id(kind: DescriptorKind) -> Select[Any]:
    """A descriptor by id, built once per kind (only the id is bound per request)."""
    table = TABLES[kind]
    return select(table.c.seq, table.c.identifier, table.c.version, table.c.body).where(
        table.c.identifier == bindparam("identifier", type_=Text)
    )


@functools.cache
def _page_query(kind: DescriptorKind, from_cursor: bool, asset_kind: bool, asset_type: bool) -> Select[Any]:
    """A page without scopes, built once per shape: parameters `limit`, and `cursor`,
    `asset_kind`, `asset_type` where the shape has them."""
    table = TABLES[kind]
    query = select(table.c.seq, table.c.body).order_by(table.c.seq)
    if from_cursor:
        query = query.where(table.c.seq >= bindparam("cursor", type_=BigInteger))
    if asset_kind:
        query = query.where(table.c.asset_kind == bindparam("asset_kind", type_=Text))
    if asset_type:
        query = query.where(table.c.asset_type == bindparam("asset_type", type_=Text))
    return query.limit(bindparam("limit", type_=Integer))


async def get(repository: Repository, kind: DescriptorKind, identifier: str) -> StoredDescriptor | None:
    """A descriptor by id in one statement without a transaction (`Repository.fetch`)."""
    rows = await repository.fetch(_by_id(kind), {"identifier": identifier})
    return _descriptor(kind, rows[0]) if rows else None


async def read(
    connection: AsyncConnection, kind: DescriptorKind, identifier: str, *, for_update: bool = False
) -> StoredDescriptor | None:
    table = TABLES[kind]
    query = select(table.c.seq, table.c.identifier, table.c.version, table.c.body).where(
        table.c.identifier == identifier
    )
    if for_update:
        # A row lock on PostgreSQL: writes to one descriptor are serialised, so their events are in
        # commit order. SQLite holds its one write lock for the whole transaction anyway.
        query = query.with_for_update()
    row = (await connection.execute(query)).first()
    return _descriptor(kind, row) if row is not None else None


async def add(
    connection: AsyncConnection, kind: DescriptorKind, document: dict[str, Any]
) -> StoredDescriptor:
    """Insert a new descriptor; `Conflict` when one with its id exists."""
    table = TABLES[kind]
    body = dumps(document)
    try:
        result = await connection.execute(
            insert(table)
            .values(identifier=document["id"], version=1, body=body, **_columns(kind, document))
            .returning(table.c.seq)
        )
    except IntegrityError:
        raise _exists(kind, document["id"]) from None
    return StoredDescriptor(result.scalar_one(), document["id"], 1, body, kind=kind)


def _exists(kind: DescriptorKind, identifier: str) -> Conflict:
    return Conflict(
        f"the {LABEL[kind]} {identifier!r} is already registered: PUT it to replace it, or DELETE it first"
    )


async def replace(
    connection: AsyncConnection, current: StoredDescriptor, document: dict[str, Any]
) -> StoredDescriptor:
    table = TABLES[current.kind]
    body = dumps(document)
    version = current.version + 1
    await connection.execute(
        update(table)
        .where(table.c.seq == current.pk)
        .values(version=version, body=body, **_columns(current.kind, document))
    )
    return StoredDescriptor(current.pk, current.identifier, version, body, kind=current.kind)


async def remove(connection: AsyncConnection, current: StoredDescriptor) -> None:
    table = TABLES[current.kind]
    await connection.execute(delete(table).where(table.c.seq == current.pk))


async def page(
    repository: Repository, kind: DescriptorKind, listing: Listing, principal: Principal
) -> BodyPage:
    """Up to `limit` descriptors the principal may read, from the cursor on, in registration order:
    their stored JSON texts, as a page is served (no record per descriptor: a page's hot path)."""
    if principal.scopes:
        async with repository.reading() as connection:
            return await _scoped_page(connection, kind, listing, principal)
    wanted = listing.shell_filter or ShellFilter()
    parameters: dict[str, Any] = {"limit": listing.limit + 1}
    if listing.cursor is not None:
        parameters["cursor"] = decode_cursor(listing.cursor)
    if wanted.asset_kind is not None:
        parameters["asset_kind"] = wanted.asset_kind
    if wanted.asset_type is not None:
        parameters["asset_type"] = wanted.asset_type
    query = _page_query(kind, "cursor" in parameters, "asset_kind" in parameters, "asset_type" in parameters)
    rows = await repository.fetch(query, parameters)
    return _as_page(rows, listing.limit)


def _as_page(rows: Sequence[Sequence[Any]], limit: int) -> BodyPage:
    # Rows of seq and body (more columns may follow). One more row than a page was asked for: it
    # says whether there is a next page, and where.
    bodies = [row[1] for row in rows[:limit]]
    return BodyPage(bodies, encode_cursor(rows[limit][0]) if len(rows) > limit else None)


async def _scoped_page(
    connection: AsyncConnection, kind: DescriptorKind, listing: Listing, principal: Principal
) -> BodyPage:
    table = TABLES[kind]
    query = select(table.c.seq, table.c.body, table.c.identifier).order_by(table.c.seq)
    if listing.cursor is not None:
        query = query.where(table.c.seq >= decode_cursor(listing.cursor))
    wanted = listing.shell_filter or ShellFilter()
    if wanted.asset_kind is not None:
        query = query.where(table.c.asset_kind == wanted.asset_kind)
    if wanted.asset_type is not None:
        query = query.where(table.c.asset_type == wanted.asset_type)
    rows = await _readable(connection, query, table, principal, listing.limit + 1)
    return _as_page(rows, listing.limit)


async def _readable(
    connection: AsyncConnection, query: Select[Any], table: Table, principal: Principal, wanted: int
) -> Sequence[Row[Any]]:
    """The first `wanted` rows of `query` whose identifier the principal's scopes cover."""
    prefixes = [scope.split("*")[0].split("?")[0].split("[")[0] for scope in principal.scopes]
    if all(prefixes):
        # The literal prefix of each pattern narrows the rows in the database; the exact match is below.
        narrowing: ColumnElement[bool] = or_(
            *(table.c.identifier.startswith(prefix, autoescape=True) for prefix in prefixes)
        )
        query = query.where(narrowing)
    found: list[Row[Any]] = []
    while len(found) < wanted:
        rows = (await connection.execute(query.limit(wanted))).all()
        found.extend(row for row in rows if principal.may_access(row.identifier))
        if len(rows) < wanted:
            break
        query = query.where(table.c.seq > rows[-1].seq)
    return found[:wanted]

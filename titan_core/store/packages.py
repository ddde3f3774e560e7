"""The AASX File Server's packages: kept byte for byte as uploaded, their content imported as twins in the
SAME transaction (a package is stored with its twins or not at all).

Deleting a package deletes the stored file only: the twins it brought stay, as ordinary twins that
may have been changed since (delete them through /shells and /submodels).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, insert, select, update

from titan_core.auth import Principal, authorize_read, authorize_write
from titan_core.errors import NotFound, TitanError
from titan_core.store.database import Database
from titan_core.store.environment_import import EnvironmentImport, ImportCounts
from titan_core.store.identifiable_store import decode_cursor, encode_cursor
from titan_core.store.records import Attachment, Kind
from titan_core.store.tables import aasx_package_shells, aasx_packages


@dataclass(frozen=True)
class PackageDescription:
    package_id: str
    aas_ids: list[str]

    def to_json(self) -> dict[str, Any]:
        return {"packageId": self.package_id, "aasIds": self.aas_ids}


@dataclass(frozen=True)
class StoredPackage:
    description: PackageDescription
    file_name: str
    data: bytes


class Packages:
    """The AASX File Server's packages (one part of the `Repository`); their twins come in through
    `environments`, in the package's transaction."""

    def __init__(self, database: Database, environments: EnvironmentImport) -> None:
        self.database = database
        self._environments = environments

    async def save_package(
        self,
        package_id: str | None,
        *,
        file_name: str,
        data: bytes,
        environment: dict[str, Any],
        files: Sequence[tuple[Kind, str, str, Attachment]],
        origin: str,
        principal: Principal,
    ) -> tuple[PackageDescription, bool, ImportCounts]:
        """Store (or, for an existing `package_id`, replace) a package and import its VERIFIED
        environment; returns (description, created, counts)."""
        aas_ids = [item["id"] for item in environment.get("assetAdministrationShells") or ()]
        for aas_id in aas_ids:
            authorize_write(principal, aas_id)
        now = datetime.now(UTC)
        async with self.database.write() as connection:
            pk = None if package_id is None else await _locked_pk(connection, package_id)
            if pk is None:
                package_id = package_id or str(uuid.uuid4())
                result = await connection.execute(
                    insert(aasx_packages)
                    .values(
                        package_id=package_id, file_name=file_name, data=data, created_at=now, updated_at=now
                    )
                    .returning(aasx_packages.c.pk)
                )
                pk = int(result.scalar_one())
                created = True
            else:
                await connection.execute(
                    update(aasx_packages)
                    .where(aasx_packages.c.pk == pk)
                    .values(file_name=file_name, data=data, updated_at=now)
                )
                await connection.execute(
                    delete(aasx_package_shells).where(aasx_package_shells.c.package_pk == pk)
                )
                created = False
            if aas_ids:
                await connection.execute(
                    insert(aasx_package_shells), [{"package_pk": pk, "aas_id": aas_id} for aas_id in aas_ids]
                )
            counts = await self._environments.import_environment(
                environment, files=files, origin=origin, principal=principal, connection=connection
            )
        assert package_id is not None
        return PackageDescription(package_id, aas_ids), created, counts

    async def package_page(
        self, *, limit: int, cursor: str | None, aas_id: str | None, principal: Principal
    ) -> tuple[list[PackageDescription], str | None]:
        """Packages in upload order; with `aas_id`, those holding that shell. A package is listed only
        to callers who may read every shell it holds, so a scoped caller's page may be shorter."""
        after = decode_cursor(cursor) if cursor else 0
        query = select(aasx_packages.c.pk, aasx_packages.c.package_id).where(aasx_packages.c.pk > after)
        if aas_id is not None:
            query = query.where(
                aasx_packages.c.pk.in_(
                    select(aasx_package_shells.c.package_pk).where(aasx_package_shells.c.aas_id == aas_id)
                )
            )
        async with self.database.read() as connection:
            rows = (await connection.execute(query.order_by(aasx_packages.c.pk).limit(limit + 1))).all()
            shown = rows[:limit]
            items = []
            for row in shown:
                aas_ids = await _aas_ids(connection, int(row.pk))
                if _readable(principal, aas_ids):
                    items.append(PackageDescription(row.package_id, aas_ids))
        next_cursor = encode_cursor(int(shown[-1].pk)) if len(rows) > limit else None
        return items, next_cursor

    async def get_package(self, package_id: str, *, principal: Principal) -> StoredPackage:
        async with self.database.read() as connection:
            row = (
                await connection.execute(
                    select(aasx_packages.c.pk, aasx_packages.c.file_name, aasx_packages.c.data).where(
                        aasx_packages.c.package_id == package_id
                    )
                )
            ).first()
            if row is None:
                raise _not_found(package_id)
            aas_ids = await _aas_ids(connection, int(row.pk))
        for aas_id in aas_ids:
            authorize_read(principal, aas_id)
        return StoredPackage(PackageDescription(package_id, aas_ids), row.file_name, bytes(row.data))

    async def delete_package(self, package_id: str, *, principal: Principal) -> None:
        """Delete the stored package; the twins imported from it stay (see the module docstring)."""
        async with self.database.write() as connection:
            pk = await _locked_pk(connection, package_id)
            if pk is None:
                raise _not_found(package_id)
            for aas_id in await _aas_ids(connection, pk):
                authorize_write(principal, aas_id)
            await connection.execute(
                delete(aasx_package_shells).where(aasx_package_shells.c.package_pk == pk)
            )
            await connection.execute(delete(aasx_packages).where(aasx_packages.c.pk == pk))


async def _locked_pk(connection: Any, package_id: str) -> int | None:
    """The pk of the package `package_id`, its row locked until the write ends (None: no such package)."""
    pk = (
        await connection.execute(
            select(aasx_packages.c.pk).where(aasx_packages.c.package_id == package_id).with_for_update()
        )
    ).scalar_one_or_none()
    return None if pk is None else int(pk)


async def _aas_ids(connection: Any, pk: int) -> list[str]:
    rows = await connection.execute(
        select(aasx_package_shells.c.aas_id).where(aasx_package_shells.c.package_pk == pk)
    )
    return list(rows.scalars())


def _readable(principal: Principal, aas_ids: list[str]) -> bool:
    try:
        for aas_id in aas_ids:
            authorize_read(principal, aas_id)
    except TitanError:  # Forbidden, or Unauthorized
        return False
    return True


def _not_found(package_id: str) -> NotFound:
    return NotFound(f"AASX package {package_id!r} not found")

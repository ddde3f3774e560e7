"""The AASX File Server profile (Part 2 `AasxFileServerServiceSpecification`, SSP-001): `/packages`.

A package is kept as uploaded and its content imported as twins in one transaction, strictly checked
like any REST write; upload size is bounded by `max_body_bytes` and the package by the safe-import
limits (`import_*` settings). The uploaded file is streamed to a temporary file as it arrives and
checked and read from there; it is read into memory once, to be handed to the database.
"""

from __future__ import annotations

import tempfile
from typing import IO

from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import HttpProcessingError

from titan_core.api.attachments import content_disposition
from titan_core.api.context import principal, repository
from titan_core.api.media_types import MULTIPART, accepts
from titan_core.api.params import paging
from titan_core.api.responses import json_response
from titan_core.errors import BadRequest, PayloadTooLarge, TitanError, UnsupportedMediaType
from titan_core.exchange.aasx import read_aasx
from titan_core.exchange.files import take_package_files
from titan_core.exchange.limits import ImportLimits
from titan_core.keys import SETTINGS
from titan_core.model.identifiers import decode_identifier, encode_identifier
from titan_core.model.verify import parse_and_verify
from titan_core.store.packages import PackageDescription

PACKAGE_MEDIA_TYPE = "application/asset-administration-shell-package"
# Parts up to this size stay in memory; larger uploads go to a temporary file as they arrive.
_SPOOL_BYTES = 1024 * 1024
_CHUNK_BYTES = 64 * 1024


async def list_packages(request: web.Request) -> web.StreamResponse:
    limit, cursor = paging(request)
    raw = request.query.get("aasId")
    aas_id = decode_identifier(raw) if raw else None
    items, next_cursor = await repository(request).package_page(
        limit=limit, cursor=cursor, aas_id=aas_id, principal=principal(request)
    )
    metadata = {"cursor": next_cursor} if next_cursor else {}
    return json_response({"paging_metadata": metadata, "result": [item.to_json() for item in items]})


async def get_package(request: web.Request) -> web.StreamResponse:
    package = await repository(request).get_package(_package_id(request), principal=principal(request))
    response = web.Response(body=package.data, content_type=PACKAGE_MEDIA_TYPE)
    response.headers["X-FileName"] = package.file_name
    response.headers["Content-Disposition"] = content_disposition(package.file_name)
    return response


@accepts(MULTIPART)
async def post_package(request: web.Request) -> web.StreamResponse:
    description, _created = await _store(request, None)
    location = request.rel_url.raw_path.rstrip("/") + "/" + encode_identifier(description.package_id)
    response = json_response(description.to_json(), status=201)
    response.headers["Location"] = location
    return response


@accepts(MULTIPART)
async def put_package(request: web.Request) -> web.StreamResponse:
    description, created = await _store(request, _package_id(request))
    if created:
        return json_response(description.to_json(), status=201)
    return web.Response(status=204)


async def delete_package(request: web.Request) -> web.StreamResponse:
    await repository(request).delete_package(_package_id(request), principal=principal(request))
    return web.Response(status=204)


def _package_id(request: web.Request) -> str:
    package_id = decode_identifier(request.match_info["packageId"])
    if len(package_id) > 128:
        raise BadRequest(f"packageId is {len(package_id)} characters long; at most 128 are accepted")
    return package_id


async def _store(request: web.Request, package_id: str | None) -> tuple[PackageDescription, bool]:
    with tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES) as upload:
        file_name, aas_ids = await _read_form(request, upload)
        limits = ImportLimits.from_settings(request.app[SETTINGS])
        package = read_aasx(upload, file_name, limits=limits)
        files = take_package_files(package)
        try:
            verified = parse_and_verify("environment", package.environment).jsonable
        except TitanError as exc:
            exc.message = f"{file_name}: {exc.message}"  # every refusal names the file
            raise
        held = [item["id"] for item in verified.get("assetAdministrationShells") or ()]
        unknown = [aas_id for aas_id in aas_ids if aas_id not in held]
        if unknown:
            raise BadRequest(
                f"aasIds names shells the package does not hold: {unknown}; it holds {held} "
                "(leave aasIds out: Titan lists the shells it finds)"
            )
        upload.seek(0)
        data = upload.read()  # the one copy in memory: the database takes the package as one value
    description, created, _counts = await repository(request).save_package(
        package_id,
        file_name=file_name,
        data=data,
        environment=verified,
        files=[(f.kind, f.identifier, f.path, f.attachment) for f in files],
        origin="rest",
        principal=principal(request),
    )
    return description, created


async def _read_form(request: web.Request, upload: IO[bytes]) -> tuple[str, list[str]]:
    """The parts `fileName` and `aasIds` (repeated, or one comma-separated part); the part `file`
    (the package) is written to `upload`, which is left at its start."""
    if request.content_type != "multipart/form-data":
        raise UnsupportedMediaType(
            "the body must be multipart/form-data with the parts 'file' (the AASX package), 'fileName' "
            f"and optionally 'aasIds', got {request.content_type!r}"
        )
    try:
        return await _parts(request, upload, request.app[SETTINGS].max_body_bytes)
    except (HttpProcessingError, ValueError, AssertionError) as exc:
        # aiohttp's multipart reader raises these for a malformed body (bad headers, no boundary).
        raise BadRequest(f"the multipart/form-data body is malformed: {exc}") from None


async def _parts(request: web.Request, upload: IO[bytes], max_bytes: int) -> tuple[str, list[str]]:
    reader = await request.multipart()
    file_name = ""
    seen_file = False
    aas_ids: list[str] = []
    part_file_name = ""
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader):
            continue
        if part.name == "file":
            if seen_file:
                raise BadRequest("the upload has more than one part named 'file'; one package is accepted")
            seen_file = True
            await _copy_part(part, upload, max_bytes)
            part_file_name = part.filename or ""
        elif part.name == "fileName":
            file_name = (await part.text()).strip()
        elif part.name == "aasIds":
            aas_ids.extend(value.strip() for value in (await part.text()).split(",") if value.strip())
    if not seen_file:
        raise BadRequest("the upload has no part named 'file' with the AASX package")
    upload.seek(0)
    return file_name or part_file_name or "package.aasx", aas_ids


async def _copy_part(part: BodyPartReader, upload: IO[bytes], max_bytes: int) -> None:
    """Stream the part into `upload`, refusing it once it passes `max_bytes` (the declared body
    length is checked before reading too; this also holds where a client's length is wrong)."""
    written = 0
    while chunk := await part.read_chunk(_CHUNK_BYTES):
        written += len(chunk)
        if written > max_bytes:
            raise PayloadTooLarge(
                f"the package is larger than the {max_bytes} bytes this server accepts (setting "
                "max_body_bytes; raise it for bigger packages)"
            )
        upload.write(chunk)


def add_routes(router: web.UrlDispatcher, prefix: str) -> None:
    router.add_get(f"{prefix}/packages", list_packages)
    router.add_post(f"{prefix}/packages", post_package)
    router.add_get(f"{prefix}/packages/{{packageId}}", get_package)
    router.add_put(f"{prefix}/packages/{{packageId}}", put_package)
    router.add_delete(f"{prefix}/packages/{{packageId}}", delete_package)

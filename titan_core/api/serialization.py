"""`/serialization`: an environment of chosen shells and submodels as JSON, XML or AASX (by `Accept`),
streamed one identifiable at a time; and `/description`."""

from __future__ import annotations

import json
import tempfile
from collections.abc import AsyncIterator

from aiohttp import web

from titan_core.api.context import principal, repository
from titan_core.api.responses import raw_json_response
from titan_core.delivery.http import SEQ_HEADER
from titan_core.errors import BadRequest, NotAcceptable
from titan_core.exchange.export import MEDIA_TYPES, ExportPlan, json_chunks, write_aasx_export, xml_chunks
from titan_core.keys import BUS, SERVICES
from titan_core.model.identifiers import decode_identifier
from titan_core.store.records import Kind

# Exactly the profiles the IDTA test engine shows Titan passes (tests/conformance asserts this
# list against its results); each in the 3/0 and the 3/1 spelling, whose read profiles agree.
_PASSING = (
    "AssetAdministrationShellRepositoryServiceSpecification/SSP-002",
    "SubmodelRepositoryServiceSpecification/SSP-002",
    "AssetAdministrationShellServiceSpecification/SSP-002",
    "SubmodelServiceSpecification/SSP-002",
)
# The AASX File Server (SSP-001) is not in the IDTA tool; tests/exchange exercise it (schemathesis
# against its OpenAPI file among them).
_EXERCISED = ("AasxFileServerServiceSpecification/SSP-001",)
PROFILES = [
    f"https://admin-shell.io/aas/API/{version}/{profile}"
    for version in ("3/0", "3/1")
    for profile in (*_PASSING, *_EXERCISED)
]

# Accept media types → format; on equal quality the first listed wins (JSON, the Part 2 default).
_ACCEPTED = {
    "application/json": "json",
    "application/xml": "xml",
    "text/xml": "xml",
    MEDIA_TYPES["aasx"]: "aasx",
}
_WILDCARDS = {"*/*": "json", "application/*": "json", "text/*": "xml"}
_CHUNK = 64 * 1024
# An AASX is a ZIP, written whole before it is sent (its directory comes last); up to this size in
# memory, beyond it in a temporary file.
_SPOOL_BYTES = 16 * 1024 * 1024


async def describe(request: web.Request) -> web.StreamResponse:
    """`/description`: the profiles of the services this instance serves (setting `services`)."""
    services = request.app.get(SERVICES)
    profiles = PROFILES if services is None else list(services.profiles)
    return raw_json_response(json.dumps({"profiles": profiles}))


def negotiate(accept: str) -> str:
    """The format for an `Accept` header: json, xml or aasx; `NotAcceptable` (406) for anything else."""
    if not accept.strip():
        return "json"
    best: tuple[float, int, str] | None = None
    for position, item in enumerate(accept.split(",")):
        media, _, params = item.strip().partition(";")
        media = media.strip().lower()
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        fmt = _ACCEPTED.get(media) or _WILDCARDS.get(media)
        if fmt is None or quality <= 0:
            continue
        candidate = (quality, -position, fmt)
        if best is None or candidate[:2] > best[:2]:
            best = candidate
    if best is None:
        raise NotAcceptable(
            f"cannot answer in any type of Accept {accept!r}: /serialization answers application/json, "
            f"application/xml or {MEDIA_TYPES['aasx']}"
        )
    return best[2]


def _ids(request: web.Request, name: str) -> list[str] | None:
    raw = request.query.getall(name, [])
    if not raw:
        return None
    return [decode_identifier(value) for item in raw for value in item.split(",") if value]


async def serialize(request: web.Request) -> web.StreamResponse:
    """Without ids, everything of that kind; `includeConceptDescriptions` defaults to true."""
    fmt = negotiate(request.headers.get("Accept", ""))
    include_cds = request.query.get("includeConceptDescriptions", "true").lower()
    if include_cds not in ("true", "false"):
        raise BadRequest(f"includeConceptDescriptions {include_cds!r} is not valid: use true or false")
    plan = ExportPlan(
        _ids(request, "aasIds"), _ids(request, "submodelIds"), None if include_cds == "true" else []
    )
    caller = principal(request)
    store = repository(request)
    # Named ids are looked up before the answer starts, so a missing one is still a clean 404.
    kinds: tuple[Kind, ...] = ("shell", "submodel")
    for kind in kinds:
        for identifier in plan.ids(kind) or ():
            await store.get(kind, identifier, principal=caller)
    bus = request.app.get(BUS)
    response = web.StreamResponse(headers={"Content-Type": MEDIA_TYPES[fmt]})
    if bus is not None:
        response.headers[SEQ_HEADER] = str(bus.head())
    if fmt == "aasx":
        response.headers["Content-Disposition"] = 'attachment; filename="environment.aasx"'
        with tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES) as package:
            await write_aasx_export(package, store, plan, principal=caller)
            response.content_length = package.tell()
            package.seek(0)
            await response.prepare(request)
            while block := package.read(_CHUNK):
                await response.write(block)
    else:
        chunks = (
            json_chunks(store, plan, principal=caller)
            if fmt == "json"
            else xml_chunks(store, plan, principal=caller)
        )
        await response.prepare(request)
        async for block in _batched(chunks):
            await response.write(block)
    await response.write_eof()
    return response


async def _batched(chunks: AsyncIterator[str]) -> AsyncIterator[bytes]:
    """Fewer, larger writes: one per ~64 KB instead of one per identifiable."""
    pending: list[bytes] = []
    size = 0
    async for chunk in chunks:
        data = chunk.encode("utf-8")
        pending.append(data)
        size += len(data)
        if size >= _CHUNK:
            yield b"".join(pending)
            pending, size = [], 0
    if pending:
        yield b"".join(pending)


def add_routes(router: web.UrlDispatcher, prefix: str) -> None:
    router.add_get(f"{prefix}/serialization", serialize)


def add_description_route(router: web.UrlDispatcher, prefix: str) -> None:
    """`/description`: served whichever services are on (it lists theirs)."""
    router.add_get(f"{prefix}/description", describe)

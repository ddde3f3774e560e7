"""The Discovery API (Part 2, DiscoveryServiceSpecification SSP-001): lookups and manual links.

- `GET /lookup/shells?assetIds=…` and `POST /lookup/shellsByAssetLink`: the shell ids that have
  every link asked for, paged by shell id, only those the caller may read;
- `GET|POST|DELETE /lookup/shells/{aasIdentifier}`: the links of one shell id. POST replaces the
  manual links (the derived ones follow the shell), DELETE removes the manual links.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

# The paging helpers by their module's name: what a page is, read and written, is the core's.
import titan_core.plugin_api as plugin_api
from titan_core.plugin_api import (
    REPOSITORY,
    ROLE_READER,
    BadRequest,
    Conflict,
    NotFound,
    Principal,
    Repository,
    authorize_read,
    authorize_write,
    decode_identifier,
    encode_identifier,
    json_body,
    json_response,
    principal_of,
    requires_role,
)
from titan_plugin_discovery import store
from titan_plugin_discovery.changes import link_change
from titan_plugin_discovery.links import posted_links, query_links, searched_links

ORIGIN = "plugin:discovery"
# How many shell ids one query reads while a scoped caller's page fills up (ids out of its scopes
# are skipped, so a page may take more than one read).
_SCOPED_BATCH = 500


def add_routes(router: web.UrlDispatcher, prefix: str) -> None:
    one = f"{prefix}/lookup/shells/{{aasIdentifier}}"
    router.add_routes([
        web.get(f"{prefix}/lookup/shells", lookup_by_query),
        web.post(f"{prefix}/lookup/shellsByAssetLink", lookup_by_body),
        web.get(one, get_links), web.post(one, post_links), web.delete(one, delete_links),
    ])  # fmt: skip


async def lookup_by_query(request: web.Request) -> web.Response:
    links = query_links(request.query.getall("assetIds", []))
    return await _lookup(request, links)


# A search, not a change: readers may POST it (every other POST needs the writer role).
@requires_role(ROLE_READER)
async def lookup_by_body(request: web.Request) -> web.Response:
    links = searched_links(await json_body(request))
    return await _lookup(request, links)


async def get_links(request: web.Request) -> web.Response:
    shell_id = decode_identifier(request.match_info["aasIdentifier"])
    authorize_read(principal_of(request), shell_id)
    async with request.app[REPOSITORY].reading() as connection:
        links = await store.read_links(connection, shell_id)
    if not links:
        raise NotFound(f"discovery knows no asset links of the shell {shell_id!r}")
    return json_response(links)


async def post_links(request: web.Request) -> web.Response:
    shell_id = decode_identifier(request.match_info["aasIdentifier"])
    principal = principal_of(request)
    authorize_write(principal, shell_id)
    links = posted_links(await json_body(request))
    async with request.app[REPOSITORY].transaction(principal, origin=ORIGIN) as tx:

        def replace(connection: Any) -> Any:
            before = store.links_now(connection, shell_id)
            store.replace_source(connection, shell_id, store.MANUAL, links)
            return link_change(shell_id, before, store.links_now(connection, shell_id))

        change = await tx.connection.run_sync(replace)
        if change is not None:
            tx.record(change)
    return json_response([link.body for link in links], status=201)


async def delete_links(request: web.Request) -> web.Response:
    shell_id = decode_identifier(request.match_info["aasIdentifier"])
    principal = principal_of(request)
    authorize_write(principal, shell_id)
    async with request.app[REPOSITORY].transaction(principal, origin=ORIGIN) as tx:

        def remove(connection: Any) -> Any:
            before = store.links_now(connection, shell_id)
            if not before:
                raise NotFound(f"discovery knows no asset links of the shell {shell_id!r}")
            if store.source_is_empty(connection, shell_id, store.MANUAL):
                raise Conflict(
                    f"the asset links of {shell_id!r} all come from the shell's assetInformation in this "
                    "repository: change the shell's globalAssetId or specificAssetIds (or delete the shell) "
                    "to change them; DELETE removes only links posted to /lookup/shells/{aasIdentifier}"
                )
            store.replace_source(connection, shell_id, store.MANUAL, [])
            return link_change(shell_id, before, store.links_now(connection, shell_id))

        change = await tx.connection.run_sync(remove)
        if change is not None:
            tx.record(change)
    return web.Response(status=204)


async def _lookup(request: web.Request, links: list[tuple[str, str]]) -> web.Response:
    principal = principal_of(request)
    authorize_read(principal)
    limit, after = _paging(request)
    found = await _readable_shell_ids(request.app[REPOSITORY], principal, links, after, limit + 1)
    page = found[:limit]
    return plugin_api.paged(page, encode_identifier(page[-1]) if len(found) > limit else None)


async def _readable_shell_ids(
    repository: Repository, principal: Principal, links: list[tuple[str, str]], after: str | None, wanted: int
) -> list[str]:
    """Up to `wanted` shell ids after `after` that `principal` may read."""
    if not principal.scopes:
        return await store.find_shell_ids(repository, links, after, wanted)
    found: list[str] = []
    while len(found) < wanted:
        batch = await store.find_shell_ids(repository, links, after, max(wanted, _SCOPED_BATCH))
        found += [shell_id for shell_id in batch if principal.may_access(shell_id)]
        if len(batch) < max(wanted, _SCOPED_BATCH):
            break
        after = batch[-1]
    return found[:wanted]


def _paging(request: web.Request) -> tuple[int, str | None]:
    """`limit` (checked and capped by the core) and the shell id the `cursor` continues after: the
    cursor is the base64url of the last shell id of the previous page."""
    limit, cursor = plugin_api.paging(request)
    if cursor is None:
        return limit, None
    try:
        return limit, decode_identifier(cursor)
    except BadRequest:
        raise BadRequest(
            f"cursor {cursor[:60]!r} is not valid: pass the paging_metadata.cursor of a previous page unchanged"
        ) from None

"""The Event Feed (proposal admin-shell-io/aas-specs-api #557) over HTTP, read from the outbox.

`GET /event-feed?cursor=&limit=&since=&filter=&presentation=` answers
`{"id":…, "updated":…, "records":[CloudEvents…], "cursor":…}` and `GET /.well-known/event-feed.json`
describes it. It has a path of its own because `GET /events` already takes `limit` with another
answer shape (docs/events.md, "Event Feed"). Records come from the durable outbox in `seq` (titanseq)
order; the filter (feed_filter.py) and the scope narrowing are part of the SQL query. A scoped reader's
page skips what it may not read and still advances the cursor, so neither a record nor an empty
filter result says that an out-of-scope twin exists.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from sqlalchemy import Select, or_, select

from titan_core.auth import Principal, authorize_read
from titan_core.caller import principal
from titan_core.delivery.feed_filter import FIELDS, OPERATORS, parse_feed_filter
from titan_core.delivery.feed_records import ENCODER, feed_records
from titan_core.delivery.profiles import AsyncAasOptions
from titan_core.errors import BadRequest
from titan_core.eventtypes.envelope import format_time
from titan_core.eventtypes.feed_types import feed_types
from titan_core.keys import DATABASE, SETTINGS
from titan_core.store.scoped_reads import all_prefixed, literal_prefix
from titan_core.store.tables import event_outbox

FEED_PATH = "/event-feed"
WELL_KNOWN = "/.well-known/event-feed.json"
COMPACT_SCHEMA_PATH = FEED_PATH + "/schemas/compact.v1.json"
# What a COMPACT record's `data` holds: identifiers only (and the semanticId, for filtering clients).
COMPACT_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "Titan Event Feed COMPACT data",
    "type": "object",
    "required": ["id"],
    "properties": {
        "id": {
            "type": "string",
            "description": "the shell, submodel or concept description (for elements: the submodel)",
        },
        "idShortPath": {"type": "string"},
        "semanticId": {"type": "object"},
    },
    "additionalProperties": False,
}
PRESENTATIONS = ("FULL", "COMPACT")
_ALIASES = {"REGULAR": "FULL"}
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
_PARAMS = ("cursor", "limit", "since", "filter", "presentation")
_COLUMNS = (event_outbox.c.seq, event_outbox.c.envelope, event_outbox.c.element, event_outbox.c.titan_id)
_JSON_TYPE = "application/json"


def add_feed_routes(router: web.UrlDispatcher, prefix: str = "") -> None:
    router.add_get(f"{prefix}{FEED_PATH}", get_feed)
    router.add_get(f"{prefix}{COMPACT_SCHEMA_PATH}", get_compact_schema)
    # Also under the API prefix, as every other route (clients configured with the prefixed base URL).
    router.add_get(f"{prefix}{WELL_KNOWN}", get_capabilities)


async def get_feed(request: web.Request) -> web.Response:
    reader = principal(request)
    authorize_read(reader)
    unknown = sorted(set(request.query) - set(_PARAMS))
    if unknown:
        raise BadRequest(f"unknown Event Feed parameter {unknown[0]!r}; accepted: {', '.join(_PARAMS)}")
    after = _cursor(request.query.get("cursor"))
    limit = _limit(request.query.get("limit"))
    presentation = _presentation(request.query.get("presentation"))
    query = select(*_COLUMNS).where(event_outbox.c.seq.is_not(None), event_outbox.c.seq > after)
    since = request.query.get("since")
    if since is not None:
        query = query.where(event_outbox.c.created_at >= _since(since))
    raw_filter = request.query.get("filter")
    if raw_filter:
        query = query.where(parse_feed_filter(raw_filter))
    settings = request.app[SETTINGS]
    options = AsyncAasOptions.from_settings(settings)
    rows, cursor = await _readable_page(
        request, query.order_by(event_outbox.c.seq), reader, limit=limit, start=after
    )
    records, last = feed_records(
        rows,
        compact=presentation == "COMPACT",
        options=options,
        compact_schema=options.base_url + COMPACT_SCHEMA_PATH,
    )
    # The page as json.dumps would write it, with the records' text put in as it is.
    head = ENCODER.encode(
        {"id": options.base_url + FEED_PATH, "updated": last or format_time(datetime.now(UTC))}
    )
    tail = f',"cursor":"{cursor}"}}' if cursor > after else "}"
    return web.Response(text=f'{head[:-1]},"records":[{",".join(records)}]{tail}', content_type=_JSON_TYPE)


async def _readable_page(
    request: web.Request, query: Select[Any], reader: Principal, *, limit: int, start: int
) -> tuple[list[Any], int]:
    """Up to `limit` rows `reader` may read, and the cursor: the seq of the last row looked at."""
    if reader.scopes and all_prefixed(reader.scopes):
        query = query.where(
            or_(
                *(
                    event_outbox.c.titan_id.startswith(literal_prefix(scope), autoescape=True)
                    for scope in reader.scopes
                )
            )
        )
    found: list[Any] = []
    cursor = start
    async with request.app[DATABASE].read_statements() as connection:
        while True:
            rows = (await connection.execute(query.where(event_outbox.c.seq > cursor).limit(limit))).all()
            for row in rows:
                cursor = row.seq
                identifier = row.titan_id or json.loads(row.envelope).get("titanid")
                if not reader.scopes or reader.may_access(str(identifier)):
                    found.append(row)
                    if len(found) >= limit:
                        return found, cursor
            if len(rows) < limit:
                return found, cursor


async def get_compact_schema(request: web.Request) -> web.Response:
    return web.json_response(COMPACT_SCHEMA, dumps=_dumps)


async def get_capabilities(request: web.Request) -> web.Response:
    options = AsyncAasOptions.from_settings(request.app[SETTINGS])
    settings = request.app[SETTINGS]
    body = {
        "apiVersion": "1.0",
        "feed": options.base_url + FEED_PATH,
        "eventTypes": {name: {"supportsCompact": True} for name in feed_types()},
        "filter": {"filterableFields": list(FIELDS), "rsql": {"operators": [*OPERATORS, ";", ","]}},
        "presentation": {"supported": list(PRESENTATIONS), "default": "FULL"},
        "maxPageSize": MAX_LIMIT,
        "retention": {"events": settings.event_retention},
        "auth": {"inherited": True},
    }
    return web.json_response(body, dumps=_dumps)


def _dumps(value: Any) -> str:
    return ENCODER.encode(value)


def _cursor(raw: str | None) -> int:
    if raw is None:
        return 0
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 19:
        raise BadRequest(f"cursor {raw!r} is not valid: pass the cursor of the previous page as it was")
    return int(raw)


def _limit(raw: str | None) -> int:
    if raw is None:
        return DEFAULT_LIMIT
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= MAX_LIMIT:
        raise BadRequest(f"limit {raw!r} is not valid: pass a whole number from 1 to {MAX_LIMIT}")
    return int(raw)


def _presentation(raw: str | None) -> str:
    if raw is None:
        return "FULL"
    value = _ALIASES.get(raw.upper(), raw.upper())
    if value not in PRESENTATIONS:
        raise BadRequest(f"presentation {raw!r} is not valid; accepted: {', '.join(PRESENTATIONS)}")
    return value


def _since(raw: str) -> datetime:
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise BadRequest(
            f"since {raw!r} is not valid: pass an RFC 3339 time with offset, e.g. 2026-12-03T09:00:00Z"
        )
    return moment

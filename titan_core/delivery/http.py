"""`GET /events` (the retained history, filtered, with long-polling) and the `X-Titan-Seq` header.

The header carries the newest titanseq this instance had seen when the request *began*: every event
up to it was committed before the read, so a client that reads a twin and then asks for events after
that titanseq gets no gap (at worst an event it already saw in the read).
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass

from aiohttp import hdrs, web
from aiohttp.typedefs import Handler

from titan_core.auth import Principal, may_read
from titan_core.caller import principal
from titan_core.delivery.bus import BusUnavailable, HistoryExpired
from titan_core.delivery.filters import EventFilter, parse_filter_query
from titan_core.delivery.reader import EventReader
from titan_core.errors import BadRequest, Forbidden, Gone, TitanError
from titan_core.keys import BUS, REPOSITORY, SETTINGS

SEQ_HEADER = "X-Titan-Seq"
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
_FEED_PARAMS = ("after", "limit", "wait")
_DIGITS = re.compile(r"^[0-9]{1,19}$")


def add_event_routes(router: web.UrlDispatcher, prefix: str = "") -> None:
    router.add_get(f"{prefix}/events", get_events)


@web.middleware
async def titan_seq_header(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Adds `X-Titan-Seq` to the answer of every GET (and HEAD)."""
    bus = request.app.get(BUS)
    if bus is None or request.method not in (hdrs.METH_GET, hdrs.METH_HEAD):
        return await handler(request)
    head = bus.head()
    response = await handler(request)
    if not response.prepared:
        response.headers[SEQ_HEADER] = str(head)
    return response


@dataclass
class ServiceUnavailable(TitanError):
    status: int = 503
    code: str = "ServiceUnavailable"


async def get_events(request: web.Request) -> web.Response:
    """`GET /events?after=&limit=&wait=` plus filters → `{"result": [...], "paging_metadata": {"cursor"}}`."""
    bus = request.app[BUS]
    after = _after(request)
    limit = _limit(request)
    reader = principal(request)
    wait = _wait(request, reader)
    event_filter = parse_filter_query(request.query, skip=_FEED_PARAMS)
    _check_filter_scopes(event_filter, reader)
    if event_filter.shell_ids is not None:
        await event_filter.resolve(request.app[REPOSITORY], reader)
    try:
        if after is None:
            after = await bus.oldest() - 1
        page = await EventReader(bus).replay(
            after, event_filter=event_filter, principal=reader, limit=limit, wait=wait
        )
    except HistoryExpired as expired:
        raise Gone(
            f"events after titanseq {expired.after} are no longer retained; the oldest retained is "
            f"{expired.oldest} (setting event_retention). Read the twin again and continue from its "
            f"{SEQ_HEADER} header, or from after={expired.oldest - 1} accepting the gap"
        ) from None
    except BusUnavailable as exc:
        raise ServiceUnavailable(f"the event bus is not reachable now: {exc}") from None
    body = b'{"result":[' + b",".join(item.json for item in page.events) + b'],"paging_metadata":{"cursor":"'
    return web.Response(body=body + str(page.cursor).encode() + b'"}}', content_type="application/json")


def _after(request: web.Request) -> int | None:
    raw = request.query.get("after")
    if raw is None:
        return None
    if not _DIGITS.match(raw):
        raise BadRequest(f"after {raw!r} is not valid: pass a titanseq (decimal digits), e.g. after=1234")
    return int(raw)


def _limit(request: web.Request) -> int:
    raw = request.query.get("limit")
    if raw is None:
        return DEFAULT_LIMIT
    if not (raw.isascii() and raw.isdigit()) or int(raw) < 1:
        raise BadRequest(
            f"limit {raw!r} is not valid: pass a whole number of at least 1 (at most {MAX_LIMIT})"
        )
    return min(int(raw), MAX_LIMIT)


def _check_filter_scopes(event_filter: EventFilter, reader: Principal) -> None:
    """403 for a filter naming a twin outside the reader's scopes, as the WebSocket answers it: the
    same for a twin that exists and one that does not, so the answer reveals nothing (issue 13 L1)."""
    for identifier in sorted((event_filter.ids or frozenset()) | (event_filter.shell_ids or frozenset())):
        if not may_read(reader, {"titanid": identifier}):
            raise Forbidden(
                f"{reader.subject!r} may not read events of {identifier!r}: it is outside its scopes"
            )


def _wait(request: web.Request, reader: Principal) -> float:
    raw = request.query.get("wait")
    if raw is None:
        return 0.0
    try:
        seconds = float(raw)
    except ValueError:
        seconds = -1.0
    if not math.isfinite(seconds) or seconds < 0:
        raise BadRequest(f"wait {raw!r} is not valid: pass the seconds to wait for an event, e.g. wait=10")
    seconds = min(seconds, float(request.app[SETTINGS].events_max_wait))
    if reader.expires_at is not None:
        # A long poll ends when the caller's credential does: no event is delivered after that.
        seconds = max(0.0, min(seconds, reader.expires_at - time.time()))
    return seconds

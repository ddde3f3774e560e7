"""One SSE response per client: the retained events after its position, then live ones, filtered by
its query and by what its principal may read. All reading goes through the plugin API's
`EventReader.follow`, which gives history and live events without a gap or a duplicate."""

from __future__ import annotations

import asyncio
import json
import re

from aiohttp import web

from titan_core.plugin_api import (
    REPOSITORY,
    BadRequest,
    HistoryExpired,
    event_reader,
    parse_filter_query,
    principal_of,
    short_type,
)

_SEQ = re.compile(r"^[0-9]{1,19}$")
_OWN_PARAMETERS = ("since",)


class EventStreams:
    """The open streams of one app, so that a stopping server can end them instead of waiting."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[object]] = set()
        self.stopping = False

    async def handle(self, request: web.Request) -> web.StreamResponse:
        principal = principal_of(request)
        event_filter = parse_filter_query(request.query, skip=_OWN_PARAMETERS)
        since = _position(request)
        if event_filter.shell_ids is not None:
            await event_filter.resolve(request.app[REPOSITORY], principal)
        reader = event_reader(request.app)
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        await response.prepare(request)
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            async for event in reader.follow(since, event_filter=event_filter, principal=principal):
                message = f"id: {event.titanseq}\nevent: {short_type(str(event.envelope['type']))}\ndata: "
                await response.write(message.encode() + event.json + b"\n\n")
        except HistoryExpired as expired:
            error = {"code": "history_expired", "message": str(expired), "oldest": str(expired.oldest)}
            await response.write(b"event: error\ndata: " + json.dumps(error).encode() + b"\n\n")
        except asyncio.CancelledError:
            if not self.stopping:
                raise
            task.uncancel()  # our own `close_all`: end this response normally
        finally:
            self._tasks.discard(task)
        return response

    async def close_all(self, app: web.Application) -> None:
        """`on_shutdown`: end every stream now (an SSE response never ends on its own)."""
        self.stopping = True
        for task in list(self._tasks):
            task.cancel()


def _position(request: web.Request) -> int | None:
    """Where the stream starts: after `Last-Event-ID` (a reconnecting EventSource), else after
    `since`, else at the next event."""
    raw = request.headers.get("Last-Event-ID") or request.query.get("since")
    if raw is None:
        return None
    if not _SEQ.match(raw):
        raise BadRequest(f"since / Last-Event-ID {raw!r} is not valid: pass a titanseq (decimal digits)")
    return int(raw)

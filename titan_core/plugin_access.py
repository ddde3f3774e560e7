"""What a plugin reaches through the running application: the event reader, the stored elements of
valueChanged events, and the caller behind a credential. The app keys stay internal; these functions
are the stable way in (re-exported by `titan_core.plugin_api`).
"""

from __future__ import annotations

from aiohttp import web

from titan_core.auth import Principal
from titan_core.caller import principal as _request_principal
from titan_core.delivery.reader import EventReader
from titan_core.delivery.stored_elements import StoredElements
from titan_core.keys import BUS, DATABASE, HOOKS


def event_reader(app: web.Application) -> EventReader:
    """The read side of this app's event bus. Available once the app has started (the bus opens
    in a `cleanup_ctx` entry): call it in handlers and background tasks, not in `titan_setup_app`."""
    return EventReader(app[BUS])


def stored_elements(app: web.Application) -> StoredElements:
    """The whole element of each valueChanged, read back from the outbox (for full-data profiles)."""
    return StoredElements(app[DATABASE])


async def authenticate(request: web.Request, token: str | None) -> Principal | None:
    """Who presents `token` on `request`, asked of every `titan_authenticate` implementation in order;
    None when no plugin claims it. A plugin that refuses the credential raises (answer 401)."""
    hooks = request.app.get(HOOKS)
    if hooks is None:
        return None
    return await hooks.authenticate(request, token)


def principal_of(request: web.Request) -> Principal:
    """Who made `request`, as the core's authentication found it (the anonymous principal when auth
    is off). Routes a plugin adds in `titan_setup_app` pass through the same middleware as REST."""
    return _request_principal(request)

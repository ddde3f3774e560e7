"""The hooks: the `/sse/events` route, and closing open streams when the server stops."""

from __future__ import annotations

from aiohttp import web

from titan_core.plugin_api import Settings, SettingsError, hookimpl
from titan_example_sse.stream import EventStreams

# The plugin API versions this plugin is written for; Titan refuses to load it on another.
TITAN_PLUGIN_API = ">=1.0,<2"

STREAMS: web.AppKey[EventStreams] = web.AppKey("titan_example_sse.streams", EventStreams)
_SETTINGS = ("path",)


@hookimpl
def titan_setup_app(app: web.Application, settings: Settings) -> None:
    section = settings.section("sse")
    unknown = sorted(set(section) - set(_SETTINGS))
    if unknown:
        raise SettingsError(
            f"unknown sse setting(s) {', '.join(unknown)} "
            f"({', '.join('TITAN_SSE_' + name.upper() for name in unknown)}); known: {', '.join(_SETTINGS)}"
        )
    path = str(section.get("path", "/sse/events"))
    if not path.startswith("/"):
        raise SettingsError(f"sse setting path must start with '/', got {path!r}")
    streams = EventStreams()
    app[STREAMS] = streams
    app.router.add_get(path, streams.handle)
    app.on_shutdown.append(streams.close_all)

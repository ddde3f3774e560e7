"""The hooks: the `/sse/events` route, and closing open streams when the server stops."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from aiohttp import web

from titan_core.plugin_api import Settings, SettingsError, SettingsSection, hookimpl
from titan_example_sse.stream import EventStreams

# The plugin API versions this plugin is written for; Titan refuses to load it on another.
TITAN_PLUGIN_API = ">=1.0,<2"

STREAMS: web.AppKey[EventStreams] = web.AppKey("titan_example_sse.streams", EventStreams)


@dataclass(frozen=True)
class SseConfig(SettingsSection):
    """The `[sse]` table and the `TITAN_SSE_*` variables; a misspelt key is refused by the core."""

    section: ClassVar[str] = "sse"
    # Where the stream is served.
    path: str = "/sse/events"

    def check(self) -> None:
        if not self.path.startswith("/"):
            raise SettingsError(f"sse setting path must start with '/', got {self.path!r}", setting="path")


@hookimpl
def titan_setup_app(app: web.Application, settings: Settings) -> None:
    config = SseConfig.from_settings(settings)
    streams = EventStreams()
    app[STREAMS] = streams
    app.router.add_get(config.path, streams.handle)
    app.on_shutdown.append(streams.close_all)

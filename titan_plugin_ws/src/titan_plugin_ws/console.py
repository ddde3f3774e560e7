"""The live console page (`/ws/console`): plain HTML, CSS and JavaScript shipped in the package,
read once and served from memory. No build step; the page talks to `/ws/events` and the REST API.
"""

from __future__ import annotations

from importlib.resources import files

from aiohttp import web

from titan_core.plugin_api import NotFound, public

CONSOLE_PATH = "/ws/console"
_ASSETS = {
    "console.html": "text/html",
    "console.js": "text/javascript",
    "watch.js": "text/javascript",
    "sparkline.js": "text/javascript",
    "console.css": "text/css",
}


def add_console_routes(router: web.UrlDispatcher) -> None:
    static = files("titan_plugin_ws") / "static"
    bodies = {name: (static / name).read_bytes() for name in _ASSETS}

    def serve(name: str) -> web.Response:
        response = web.Response(body=bodies[name], content_type=_ASSETS[name], charset="utf-8")
        # The page is small and changes with the installed version; always ask again.
        response.headers["Cache-Control"] = "no-cache"
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response

    # The page and its files are public (they hold no data); the page asks for a token itself.
    @public
    async def page(request: web.Request) -> web.Response:
        return serve("console.html")

    @public
    async def asset(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in bodies or name == "console.html":
            raise NotFound(f"no console file {name!r}; the console is at {CONSOLE_PATH}")
        return serve(name)

    router.add_get(CONSOLE_PATH, page)
    router.add_get(CONSOLE_PATH + "/{name}", asset)

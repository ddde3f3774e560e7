"""`GET /`: where to go from here (console, OpenAPI, API docs); `GET /docs`: the API as a readable page.

Both answer without authentication: they show the shape of the API, never a twin. A browser gets
HTML, anything else JSON. The console link appears only where a plugin serves `/ws/console`.
"""

from __future__ import annotations

import html

from aiohttp import web

from titan_core import DISTRIBUTION, __version__
from titan_core.api.openapi import OPENAPI_PATH, build_openapi
from titan_core.auth import public

HOME_PATH = "/"
DOCS_PATH = "/docs"
# Served by the plugin titan-aas-ws; the core only looks whether the route exists.
CONSOLE_PATH = "/ws/console"
SPECIFICATION_URL = "https://github.com/admin-shell-io/aas-specs-api"


def links(app: web.Application) -> dict[str, dict[str, str]]:
    """What the home page points to, by name: href and a one-line title."""
    found: dict[str, dict[str, str]] = {}
    if _routed(app, CONSOLE_PATH):
        found["console"] = {
            "href": CONSOLE_PATH,
            "title": "live console: events as they happen, a submodel's values",
        }
    found.update({
        "docs": {"href": DOCS_PATH, "title": "the API of this server, every route with its summary"},
        "openapi": {"href": OPENAPI_PATH, "title": "OpenAPI 3.1 document of this server"},
        "shells": {"href": "/shells", "title": "the Asset Administration Shells (IDTA Part 2 API)"},
        "submodels": {"href": "/submodels", "title": "the submodels"},
        "events": {"href": "/events?after=0&limit=20", "title": "the event history (CloudEvents)"},
        "description": {"href": "/description", "title": "the API profiles served"},
        "ready": {"href": "/ready", "title": "readiness, with the health of each plugin"},
        "specification": {"href": SPECIFICATION_URL, "title": "IDTA AAS Part 2 API specification"},
    })  # fmt: skip
    if not _routed(app, "/shells"):  # an instance that does not serve the repository (setting services)
        del found["shells"], found["submodels"]
    return found


def _routed(app: web.Application, path: str) -> bool:
    return any(resource.canonical == path for resource in app.router.resources())


def _wants_html(request: web.Request) -> bool:
    return "text/html" in request.headers.get("Accept", "")


@public
async def home(request: web.Request) -> web.Response:
    found = links(request.app)
    if not _wants_html(request):
        return web.json_response({"name": "Titan-AAS", "distribution": DISTRIBUTION, "version": __version__,
                                  "links": found})  # fmt: skip
    items = "".join(
        f'<li><a href="{html.escape(link["href"])}">{html.escape(name)}</a>: {html.escape(link["title"])}</li>'
        for name, link in found.items()
    )
    return _page(f"Titan-AAS {__version__}", f"<p>An Asset Administration Shell server.</p><ul>{items}</ul>")


@public
async def docs(request: web.Request) -> web.Response:
    # Built per request from the same document as /openapi.json: a page for people, rarely asked.
    return _page("Titan-AAS API", _operations_html(request.app))


def _operations_html(app: web.Application) -> str:
    document = build_openapi(app)
    rows: list[str] = []
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method == "parameters" or not isinstance(operation, dict):
                continue
            summary = operation.get("summary") or operation.get("description") or ""
            tags = ", ".join(operation.get("tags", []))
            rows.append(
                f"<tr><td>{method.upper()}</td><td><code>{html.escape(path)}</code></td>"
                f"<td>{html.escape(str(summary))}</td><td>{html.escape(tags)}</td></tr>"
            )
    return (
        f"<p>Every route this server answers ({len(rows)} operations). Machine-readable: "
        f'<a href="{OPENAPI_PATH}">{OPENAPI_PATH}</a>. Specification: '
        f'<a href="{SPECIFICATION_URL}">{SPECIFICATION_URL}</a>. <a href="/">Home</a>.</p>'
        "<table><thead><tr><th>method</th><th>path</th><th>summary</th><th>tags</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _page(title: str, body: str) -> web.Response:
    text = (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        "<style>body{font-family:system-ui,sans-serif;margin:2em;max-width:70em}"
        "td,th{text-align:left;padding:.2em .6em;vertical-align:top}code{word-break:break-all}</style>"
        f"</head><body><h1>{html.escape(title)}</h1>{body}</body></html>"
    )
    return web.Response(text=text, content_type="text/html")


def add_home_routes(router: web.UrlDispatcher) -> None:
    router.add_get(HOME_PATH, home)
    router.add_get(DOCS_PATH, docs)

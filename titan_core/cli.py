"""The `titan` command: `serve`, `load`, `migrate`, `plugins`, `--version`."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from titan_core import __version__
from titan_core.settings import Settings, SettingsError, load_settings

log = logging.getLogger("titan")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="titan", description="Titan-AAS: an Asset Administration Shell server"
    )
    parser.add_argument("--version", action="version", version=f"titan-core {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the HTTP server")
    serve.add_argument("--host", help="address to bind (TITAN_HOST; default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to bind (TITAN_PORT; default 8080)")
    _database_option(serve)
    serve.add_argument("--api-prefix", help="alias prefix of the API (TITAN_API_PREFIX; default /api/v3.0)")
    serve.add_argument("--log-level", help="DEBUG, INFO, WARNING, ERROR (TITAN_LOG_LEVEL; default INFO)")

    load = commands.add_parser("load", help="load AAS environments (JSON or XML files, or folders of them)")
    load.add_argument("paths", nargs="+", type=Path, metavar="FILE|DIR")
    load.add_argument(
        "--lenient",
        action="store_true",
        help="store files that break meta-model rules, reporting every violation (default: refuse them)",
    )
    _database_option(load)

    migrate = commands.add_parser("migrate", help="bring the database schema up to date and exit")
    _database_option(migrate)

    plugins = commands.add_parser("plugins", help="list plugins: name, version, hooks, state")
    plugins.add_argument("--json", action="store_true", help="print a JSON list instead of a table")
    return parser


def _database_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--database-url",
        help="sqlite+aiosqlite:///FILE or postgresql+asyncpg://USER@HOST/DB (TITAN_DATABASE_URL; "
        "default sqlite+aiosqlite:///titan.sqlite3)",
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    overrides: dict[str, Any] = {
        name: getattr(args, name, None)
        for name in ("host", "port", "database_url", "api_prefix", "log_level")
    }
    try:
        settings = load_settings(overrides)
    except SettingsError as exc:
        print(f"titan: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if args.command == "serve":
        return _serve(settings)
    if args.command == "load":
        from titan_core.loader import load_paths

        return asyncio.run(load_paths(settings, args.paths, lenient=args.lenient))
    if args.command == "migrate":
        return asyncio.run(_migrate(settings))
    if args.command == "plugins":
        from titan_core.plugins import print_plugins

        return print_plugins(settings, as_json=args.json)
    raise AssertionError(args.command)


def _serve(settings: Settings) -> int:
    from aiohttp import web

    from titan_core.app import create_app
    from titan_core.plugins import PluginLoadError

    try:
        app = create_app(settings)
    except PluginLoadError as exc:
        print(f"titan: {exc}", file=sys.stderr)
        return 2
    log.info(
        "titan-core %s serving on http://%s:%d (database %s)",
        __version__,
        settings.host,
        settings.port,
        settings.database_url.split("@")[-1],
    )
    web.run_app(app, host=settings.host, port=settings.port, print=None, access_log=None)
    return 0


async def _migrate(settings: Settings) -> int:
    from titan_core.store.database import Database

    database = Database(settings.database_url)
    try:
        await database.migrate()
    finally:
        await database.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

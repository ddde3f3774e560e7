"""The `titan` command: `serve`, `load`, `migrate`, `plugins`, `keys`, `--version`."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import ipaddress
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
    parser.add_argument("--version", action="version", version=f"titan-aas {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the HTTP server")
    serve.add_argument("--host", help="address to bind (TITAN_HOST; default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to bind (TITAN_PORT; default 8080)")
    _database_option(serve)
    serve.add_argument("--api-prefix", help="alias prefix of the API (TITAN_API_PREFIX; default /api/v3.0)")
    serve.add_argument("--log-level", help="DEBUG, INFO, WARNING, ERROR (TITAN_LOG_LEVEL; default INFO)")
    serve.add_argument(
        "--insecure-no-auth",
        action="store_const",
        const=True,
        help="serve on a non-loopback address with authentication off, letting anyone who reaches it "
        "change every twin (TITAN_INSECURE_NO_AUTH)",
    )

    load = commands.add_parser("load", help="load AAS environments (JSON or XML files, or folders of them)")
    load.add_argument("paths", nargs="+", type=Path, metavar="FILE|DIR")
    load.add_argument(
        "--lenient",
        action="store_true",
        help="store files that break meta-model rules, reporting every violation (default: refuse them)",
    )
    load.add_argument(
        "--operator",
        help="who loads: recorded as the subject of every event the load causes (default: the OS user name)",
    )
    _database_option(load)

    migrate = commands.add_parser("migrate", help="bring the database schema up to date and exit")
    _database_option(migrate)

    plugins = commands.add_parser("plugins", help="list plugins: name, version, hooks, state")
    plugins.add_argument("--json", action="store_true", help="print a JSON list instead of a table")

    keys = commands.add_parser("keys", help="make API keys and the digests the configuration stores")
    key_commands = keys.add_subparsers(dest="keys_command", required=True)
    new = key_commands.add_parser("new", help="a new random key (printed once) and its api_keys entry")
    hash_ = key_commands.add_parser("hash", help="the api_keys entry of a key read from standard input")
    for key_parser in (new, hash_):
        key_parser.add_argument("--subject", default="", help="who the key stands for (in logs and errors)")
        key_parser.add_argument(
            "--role",
            action="append",
            choices=("reader", "writer", "admin"),
            help="a role of the key (repeatable; default reader)",
        )
        key_parser.add_argument(
            "--scope",
            action="append",
            default=[],
            metavar="PATTERN",
            help="an identifier pattern the key is limited to (repeatable)",
        )
    return parser


def _operator(given: str | None) -> str | None:
    """The `--operator` given, or the OS user's name; None when neither is known."""
    if given is not None and given.strip():
        return given.strip()
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no LOGNAME/USER and no passwd entry (some containers)
        return None


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
        for name in ("host", "port", "database_url", "api_prefix", "log_level", "insecure_no_auth")
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

        operator = _operator(args.operator)
        if operator is None:
            print(
                "titan load: cannot tell who is loading (no OS user name); say it with --operator NAME",
                file=sys.stderr,
            )
            return 2
        return asyncio.run(load_paths(settings, args.paths, lenient=args.lenient, operator=operator))
    if args.command == "migrate":
        return asyncio.run(_migrate(settings))
    if args.command == "plugins":
        from titan_core.plugins import print_plugins

        return print_plugins(settings, as_json=args.json)
    if args.command == "keys":
        return _keys(args)
    raise AssertionError(args.command)


def _serve(settings: Settings) -> int:
    from aiohttp import web

    from titan_core.api.hardening import quiet_malformed_requests
    from titan_core.app import create_app
    from titan_core.gc_tuning import tune_for_serving
    from titan_core.plugins import PluginLoadError

    refusal = bind_refusal(settings)
    if refusal:
        print(f"titan: {refusal}", file=sys.stderr)
        return 2
    quiet_malformed_requests()
    try:
        app = create_app(settings)
    except (PluginLoadError, SettingsError) as exc:
        print(f"titan: {exc}", file=sys.stderr)
        return 2
    tune_for_serving()
    log.info(
        "titan-aas %s serving on http://%s:%d (database %s)",
        __version__,
        settings.host,
        settings.port,
        settings.database_url.split("@")[-1],
    )
    web.run_app(app, host=settings.host, port=settings.port, print=None, access_log=None)
    return 0


def bind_refusal(settings: Settings) -> str:
    """Why `titan serve` must not start with these settings ("" when it may).

    Authentication off is the embedded default, safe only while no other machine can connect.
    """
    if settings.auth_enabled or settings.insecure_no_auth or is_loopback(settings.host):
        return ""
    return (
        f"refusing to serve on {settings.host} with authentication off: anyone who can reach this "
        "address could read and change every twin. Turn authentication on (TITAN_AUTH_ENABLED=true with "
        "API keys or JWT settings, see docs/security.md), bind to 127.0.0.1, or, on a network you trust "
        "completely, pass --insecure-no-auth (TITAN_INSECURE_NO_AUTH=true)"
    )


def is_loopback(host: str) -> bool:
    """Whether `host` only accepts connections from this machine (an empty host means every address)."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _keys(args: argparse.Namespace) -> int:
    from titan_core.credentials.api_keys import MIN_KEY_LENGTH, config_entry, hash_api_key, new_api_key

    roles = args.role or ["reader"]
    if args.keys_command == "new":
        key = new_api_key()
        print(f"key (give it to the client; it is not stored anywhere): {key}")
    else:
        key = (getpass.getpass("key: ") if sys.stdin.isatty() else sys.stdin.readline()).strip()
        if len(key) < MIN_KEY_LENGTH:
            print(f"titan: the key is {len(key)} characters long; use at least {MIN_KEY_LENGTH} random "
                  "characters (`titan keys new` makes one)", file=sys.stderr)  # fmt: skip
            return 2
    entry = config_entry(hash_api_key(key), args.subject or "api-key", roles, args.scope)
    print(f'api_keys entry (TOML: api_keys = ["…"]; env: TITAN_API_KEYS=…): {entry}')
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

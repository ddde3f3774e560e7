"""The `titan` command line: subcommands, their help, and one-line errors for bad options."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import NoReturn

from titan_core import DISTRIBUTION, __version__
from titan_core.settings import LOG_LEVELS


class OneLineErrors(argparse.ArgumentParser):
    """Bad options end in one line saying what was wrong and where to read what is accepted,
    instead of argparse's usage block."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see `{self.prog} --help`)\n")


def log_level(text: str) -> str:
    level = text.strip().upper()
    if level not in LOG_LEVELS:
        raise argparse.ArgumentTypeError(f"{text!r} is not a log level; use one of {', '.join(LOG_LEVELS)}")
    return level


def port(text: str) -> int:
    try:
        number = int(text)
    except ValueError:
        number = 0
    if not 1 <= number <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port; use a whole number from 1 to 65535")
    return number


def workers(text: str) -> int:
    try:
        number = int(text)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of workers; use a whole number from 1")
    return number


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineErrors(
        prog="titan",
        description="Titan-AAS: an Asset Administration Shell server (IDTA Part 2 REST API) with live events.",
        epilog="Every option is also a TITAN_* environment variable and a key of the TOML file named by "
        "TITAN_CONFIG (docs/configuration.md).",
    )
    parser.add_argument("--version", action="version", version=f"{DISTRIBUTION} {__version__}")
    commands = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", parser_class=OneLineErrors
    )
    _serve(commands)
    _load(commands)
    _export(commands)
    migrate = _command(commands, "migrate", "bring the database schema up to date and exit")
    _database_option(migrate)
    plugins = _command(
        commands,
        "plugins",
        "list the built-in and installed plugins: name, version, distribution, hooks, state",
    )
    plugins.add_argument("--json", action="store_true", help="print a JSON list instead of a table")
    _keys(commands)
    return parser


def _command(commands: argparse._SubParsersAction[OneLineErrors], name: str, summary: str) -> OneLineErrors:
    """A subcommand whose one-line summary shows both in `titan --help` and in its own --help."""
    return commands.add_parser(name, help=summary, description=summary[0].upper() + summary[1:] + ".")


def _serve(commands: argparse._SubParsersAction[OneLineErrors]) -> None:
    serve = _command(commands, "serve", "run the HTTP server (REST API, /events, installed plugins)")
    serve.add_argument("--host", help="address to bind (TITAN_HOST; default 127.0.0.1)")
    serve.add_argument("--port", type=port, help="port to bind, 1-65535 (TITAN_PORT; default 8080)")
    _database_option(serve)
    serve.add_argument("--api-prefix", help="alias prefix of the API (TITAN_API_PREFIX; default /api/v3.0)")
    serve.add_argument(
        "--log-level", type=log_level, help=f"{', '.join(LOG_LEVELS)} (TITAN_LOG_LEVEL; default INFO)"
    )
    serve.add_argument(
        "--workers",
        type=workers,
        metavar="N",
        help="serve with N worker processes sharing the port (Linux; N > 1 needs TITAN_BUS=redis://… "
        "and PostgreSQL, as several instances do); a parent process migrates once and restarts a "
        "worker that dies (TITAN_WORKERS; default 1)",
    )
    serve.add_argument(
        "--demo",
        action="store_true",
        help="before serving, load the demo twin shipped with Titan (an IDTA Digital Nameplate, Technical "
        "Data, Contact Information and Carbon Footprint of one asset) if the database was never used; a "
        "database with data is kept as it is",
    )
    serve.add_argument(
        "--insecure-no-auth",
        action="store_const",
        const=True,
        help="serve on a non-loopback address with authentication off, letting anyone who reaches it "
        "change every twin (TITAN_INSECURE_NO_AUTH)",
    )


def _load(commands: argparse._SubParsersAction[OneLineErrors]) -> None:
    load = commands.add_parser(
        "load",
        help="store the shells, submodels and concept descriptions of AAS environment files",
        description="Store the shells, submodels and concept descriptions of AAS environment files "
        "(IDTA Part 1 V3.0 environments as JSON, *.json, or XML, *.xml, and AASX packages, *.aasx, whose "
        "files become attachments). A folder is searched recursively; its other files are listed as "
        "skipped. Loading upserts: what is new is created, what changed is replaced, what is equal stays "
        "unchanged, nothing is deleted; each change becomes events. Each file is checked (package limits, "
        "meta-model) before anything is stored, and stored in one transaction.",
    )
    load.add_argument(
        "paths", nargs="+", type=Path, metavar="FILE|DIR", help="*.json, *.xml or *.aasx files, or folders"
    )
    load.add_argument(
        "--jobs",
        type=int,
        default=None,
        metavar="N",
        help="read and verify files in N worker processes while this one stores them; 1 reads them in "
        "this process (default: 2 on a machine with two or more cores, else 1)",
    )
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


def _export(commands: argparse._SubParsersAction[OneLineErrors]) -> None:
    export = _command(
        commands, "export", "write all twins, or the shells named, as one JSON, XML or AASX environment"
    )
    export.add_argument(
        "--shell",
        action="append",
        default=[],
        metavar="ID",
        help="a shell to export with its submodels and the concept descriptions they use (repeatable; "
        "default: every shell, submodel and concept description)",
    )
    export.add_argument(
        "--format", choices=("json", "xml", "aasx"), help="default: from the -o suffix, else json"
    )
    export.add_argument("-o", "--output", type=Path, metavar="FILE", help="default: standard output")
    _database_option(export)


def _keys(commands: argparse._SubParsersAction[OneLineErrors]) -> None:
    keys = _command(commands, "keys", "make API keys and the digests the configuration stores")
    key_commands = keys.add_subparsers(dest="keys_command", required=True, metavar="COMMAND",
                                       parser_class=OneLineErrors)  # fmt: skip
    new = _command(key_commands, "new", "print a new random key (once) and its api_keys entry")
    hash_ = _command(key_commands, "hash", "print the api_keys entry of a key read from standard input")
    for key_parser in (new, hash_):
        key_parser.add_argument("--subject", default="", help="who the key stands for (in logs and errors)")
        key_parser.add_argument(
            "--role",
            action="append",
            choices=("reader", "writer", "admin"),
            help="a role of the key: reader, writer or admin (repeatable; default reader)",
        )
        key_parser.add_argument(
            "--scope",
            action="append",
            default=[],
            metavar="PATTERN",
            help="an identifier pattern the key is limited to (repeatable)",
        )


def _database_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--database-url",
        help="sqlite+aiosqlite:///FILE or postgresql+asyncpg://USER@HOST/DB (TITAN_DATABASE_URL; "
        "default sqlite+aiosqlite:///titan.sqlite3)",
    )


def print_error(message: str) -> None:
    # Settings report every bad value at once, one per line.
    for line in message.splitlines():
        print(f"titan: {line}", file=sys.stderr)

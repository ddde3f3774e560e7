"""The `titan` command: `serve`, `load`, `migrate`, `plugins`, `keys`, `--version` (options: cli_parser)."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import ipaddress
import logging
import os
import sys
import warnings
from collections.abc import Sequence
from typing import Any

from titan_core import DISTRIBUTION, __version__
from titan_core.cli_parser import build_parser, print_error
from titan_core.logging_setup import configure_logging
from titan_core.settings import SettingDeprecationWarning, Settings, SettingsError, load_settings
from titan_core.store.database import DatabaseUnavailable, open_database
from titan_core.workers import (
    CHANNEL_VARIABLE,
    WorkerSlot,
    become_worker,
    port_in_use,
    supervise,
    workers_refusal,
)

log = logging.getLogger("titan")


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(arguments)
    overrides: dict[str, Any] = {
        name: getattr(args, name, None)
        for name in ("host", "port", "database_url", "api_prefix", "log_level", "insecure_no_auth", "workers")
    }
    try:
        settings = _load_settings(overrides)
    except SettingsError as exc:
        print_error(str(exc))
        return 2
    configure_logging(settings.log_level)
    if args.command == "keys":
        return _keys(args)
    if args.command == "plugins":
        from titan_core.plugins import print_plugins

        return print_plugins(settings, as_json=args.json)
    try:
        if args.command == "serve":
            return _serve(settings, demo=args.demo, arguments=arguments)
        if args.command == "load":
            from titan_core.gc_tuning import tune_for_loading
            from titan_core.loader import default_jobs, load_paths

            tune_for_loading()
            operator = _operator(args.operator)
            if operator is None:
                print_error(
                    "cannot tell who is loading (no OS user name); say it with `titan load --operator NAME`"
                )
                return 2
            return asyncio.run(
                load_paths(
                    settings,
                    args.paths,
                    lenient=args.lenient,
                    operator=operator,
                    jobs=default_jobs() if args.jobs is None else max(1, args.jobs),
                )
            )
        if args.command == "export":
            from titan_core.exporter import export_twins

            return asyncio.run(
                export_twins(settings, shell_ids=args.shell, output=args.output, requested_format=args.format)
            )
        if args.command == "migrate":
            return asyncio.run(_migrate(settings))
    except DatabaseUnavailable as exc:
        print_error(str(exc))
        return 1
    except Exception as exc:
        # `titan load`, `migrate` and `export` load the installed plugins for their migrations and
        # write hooks; one that fails with require_plugins on stops them as it stops `serve`.
        from titan_core.plugins import PluginLoadError  # imported only now: most commands never need it

        if not isinstance(exc, PluginLoadError):
            raise
        print_error(str(exc))
        return 2
    raise AssertionError(args.command)


def _load_settings(overrides: dict[str, Any]) -> Settings:
    """The settings; a renamed setting still in use gets one `titan: warning:` line, not a traceback-like
    warnings line (logging is not set up yet: the log level is one of the settings)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", SettingDeprecationWarning)
        settings = load_settings(overrides)
    for warning in caught:
        if issubclass(warning.category, SettingDeprecationWarning):
            print_error(f"warning: {warning.message}")
        else:
            warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
    return settings


def _serve(settings: Settings, *, demo: bool, arguments: Sequence[str]) -> int:
    """`titan serve`: one process, a worker of `--workers N` (WORKER_VARIABLE set), or their parent."""
    refusal = bind_refusal(settings) or workers_refusal(settings)
    if refusal:
        print_error(refusal)
        return 2
    slot = WorkerSlot.current()
    if slot is not None:
        return _serve_worker(settings, slot)
    if settings.workers == 1:
        if demo:
            log.info("%s", asyncio.run(_load_demo(settings)))
        return _run_server(settings, banner=f"{DISTRIBUTION} {__version__} serving on")
    # The parent: what must happen once (migrations, the demo) happens here, before any worker runs.
    taken = port_in_use(settings.host, settings.port)
    if taken:
        print_error(taken)
        return 1
    if demo:
        log.info("%s", asyncio.run(_load_demo(settings)))  # migrates too
    elif settings.migrate_on_start:
        asyncio.run(_migrate(settings))
    from titan_core.handoff import listen

    try:
        listeners = listen(settings.host, settings.port)
    except OSError as error:
        print_error(f"cannot serve on {settings.host}:{settings.port}: {error.strerror or error}")
        return 1
    log.info("%s %s: %d workers serving on %s (database %s)", DISTRIBUTION, __version__, settings.workers,
             _address(settings), _database_label(settings))  # fmt: skip
    # Each worker re-runs this very command line; the variable makes it a worker (above).
    command = [sys.executable, "-m", "titan_core", *arguments]
    return supervise(settings, command, settings.workers, listeners)


def _serve_worker(settings: Settings, slot: WorkerSlot) -> int:
    if not become_worker(slot):
        print_error(f"worker {slot.index}: its parent (pid {slot.parent}) is gone; not starting")
        return 1
    # The parent migrated (and loaded the demo) before starting the workers.
    worker = settings.replace(migrate_on_start=False)
    banner = (
        f"{DISTRIBUTION} {__version__} worker {slot.index} of {slot.count} (pid {os.getpid()}) serving on"
    )
    try:
        channel = int(os.environ[CHANNEL_VARIABLE])
    except (KeyError, ValueError):
        print_error(f"worker {slot.index}: no connection channel from the parent ({CHANNEL_VARIABLE})")
        return 1
    return _run_server(worker, banner=banner, channel=channel)


def _run_server(settings: Settings, *, banner: str, channel: int | None = None) -> int:
    """Serve until a signal: on host:port, or (a worker) on the connections handed over `channel`."""
    from aiohttp import web

    from titan_core.api.hardening import quiet_malformed_requests
    from titan_core.app import create_app
    from titan_core.event_loop import EventLoopUnavailable, loop_label, new_serving_loop
    from titan_core.gc_tuning import tune_for_serving
    from titan_core.plugins import PluginLoadError

    quiet_malformed_requests()
    try:
        loop = new_serving_loop(settings.event_loop)
    except EventLoopUnavailable as exc:
        print_error(str(exc))
        return 2

    try:
        app = create_app(settings)
    except (PluginLoadError, SettingsError) as exc:
        print_error(str(exc))
        return 2
    tune_for_serving()

    def announce(_aiohttp_banner: str) -> None:
        # aiohttp calls this once the app has started (migrations, plugins) and the port is bound.
        log.info("%s %s (database %s, %s)", banner, _address(settings), _database_label(settings),
                 loop_label(loop))  # fmt: skip

    # In-flight requests get the first half of `stop_timeout` (aiohttp's own default is 60 s, longer
    # than the parent of workers waited before it killed them); the shutdown hooks the rest.
    requests_grace = settings.stop_timeout / 2
    if channel is not None:
        from titan_core.handoff import run_handed

        run_handed(app, channel, loop, label=_address(settings), announce=lambda: announce(""),
                   shutdown_timeout=requests_grace)  # fmt: skip
        return 0
    web.run_app(app, host=settings.host, port=settings.port, print=announce, access_log=None,
                shutdown_timeout=requests_grace, loop=loop)  # fmt: skip
    return 0


def _address(settings: Settings) -> str:
    return f"http://{settings.host}:{settings.port}"


def _database_label(settings: Settings) -> str:
    return settings.database_url.split("@")[-1]  # no user or password in the log


async def _load_demo(settings: Settings) -> str:
    from titan_core.demo import load_demo_into_unused_database
    from titan_core.plugins import store_wiring

    wiring = store_wiring(settings)
    database = open_database(settings.database_url)
    try:
        await database.migrate(wiring.migrations)
        return await load_demo_into_unused_database(database, write_hooks=wiring.write_hooks)
    finally:
        await database.close()


def _operator(given: str | None) -> str | None:
    """The `--operator` given, or the OS user's name; None when neither is known."""
    if given is not None and given.strip():
        return given.strip()
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no LOGNAME/USER and no passwd entry (some containers)
        return None


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
            print_error(f"the key is {len(key)} characters long; use at least {MIN_KEY_LENGTH} random "
                        "characters (`titan keys new` makes one)")  # fmt: skip
            return 2
    entry = config_entry(hash_api_key(key), args.subject or "api-key", roles, args.scope)
    print(f'api_keys entry (TOML: api_keys = ["…"]; env: TITAN_API_KEYS=…): {entry}')
    return 0


async def _migrate(settings: Settings) -> int:
    from titan_core.plugins import store_wiring

    migrations = store_wiring(settings).migrations  # the installed plugins' branches too
    database = open_database(settings.database_url)
    try:
        await database.migrate(migrations)
    finally:
        await database.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

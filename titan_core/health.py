"""`GET /health` (the process answers) and `GET /ready` (the core can serve; plugin health in the body).

Registered as the built-in plugin `health`, through the same `titan_setup_app` hook any plugin uses.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from aiohttp import web

from titan_core import __version__
from titan_core.auth import ROLE_READER
from titan_core.caller import principal
from titan_core.delivery.pipeline import event_status
from titan_core.hookspecs import hookimpl
from titan_core.keys import DATABASE, EVENT_PIPELINE, HOOKS, PLUGIN_MANAGER, SETTINGS
from titan_core.metrics.live_state import DeliveryState, read_delivery_state, state_as_dict
from titan_core.settings import Settings

# Long enough for a busy database, short enough for a load balancer's probe (often 5 s).
CHECK_TIMEOUT_SECONDS = 2.0


@dataclass(frozen=True)
class HealthReport:
    """One component's health, as `titan_health` returns it and `/ready` lists it.

    `name` names the component (usually the plugin), `ok` says whether it works, and `detail`
    tells an operator what is wrong or how it is doing ("broker unreachable since 05:25:48").
    """

    name: str
    ok: bool
    detail: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "ok": self.ok, "detail": self.detail}


@hookimpl
def titan_setup_app(app: web.Application, settings: Settings) -> None:
    app.router.add_get("/health", health)
    app.router.add_get("/ready", ready)


async def health(request: web.Request) -> web.Response:
    """Liveness: 200 whenever the process can answer at all; checks nothing else."""
    return web.json_response({"status": "ok", "version": __version__})


async def ready(request: web.Request) -> web.Response:
    """Readiness: 503 only when the database does not answer, or when plugins are required and
    one of them is in trouble; every check, every plugin's state and the event pipeline (relay,
    each sink's position and lag) are in the body either way."""
    app = request.app
    database_report, plugin_reports, delivery = await asyncio.gather(
        check_database(app), app[HOOKS].health(app, timeout=CHECK_TIMEOUT_SECONDS), read_delivery_state(app)
    )
    records = app[PLUGIN_MANAGER].records
    plugins_ok = all(report.ok for _, report in plugin_reports) and all(
        record.state != "failed" for record in records
    )
    serving = database_report.ok and (plugins_ok or not app[SETTINGS].require_plugins)
    checks = [{**database_report.as_dict(), "plugin": None}]
    checks += [{**report.as_dict(), "plugin": None} for report in delivery_reports(app, delivery)]
    checks += [{**report.as_dict(), "plugin": plugin_name} for plugin_name, report in plugin_reports]
    status = 200 if serving else 503
    if app[SETTINGS].auth_enabled and not principal(request).has_role(ROLE_READER):
        # Host names, PIDs, broker addresses and versions are for operators, not for anyone who
        # can reach the port: a probe needs only the status (docs/security.md).
        brief = [{"name": check["name"], "ok": check["ok"], "plugin": check["plugin"]} for check in checks]
        return web.json_response(
            {"status": "ready" if serving else "unavailable", "checks": brief}, status=status
        )
    events = event_status(app)
    if events is not None:
        events["delivery"] = state_as_dict(delivery)
    body = {
        "status": "ready" if serving else "unavailable",
        "checks": checks,
        "plugins": [record.as_dict() for record in records],
        "events": events,
    }
    return web.json_response(body, status=status)


def delivery_reports(app: web.Application, delivery: DeliveryState) -> list[HealthReport]:
    """Whether events get published (relay lease held and renewed, nothing waiting long) and
    whether each shared `once` sink has an instance delivering it. Read live on every `/ready`, so a
    recovery shows at once; trouble here is reported, it does not fail readiness."""
    if app.get(EVENT_PIPELINE) is None or delivery.lease is None:
        return []
    problem = delivery.relay_problem()
    lease = delivery.lease
    detail = problem or f"publishing; the relay lease is held by {lease.holder}"
    reports = [HealthReport("event relay", not problem, detail)]
    for sink, owner in sorted(delivery.sink_owners.items()):
        if owner is None:
            reports.append(
                HealthReport(f"sink {sink}", False, "no instance delivers this sink now (lease vacant)")
            )
        else:
            reports.append(HealthReport(f"sink {sink}", True, f"delivered by {owner}"))
    return reports


async def check_database(app: web.Application) -> HealthReport:
    """Whether the database answers a trivial query within the time limit."""
    database = app.get(DATABASE)
    if database is None:
        return HealthReport("database", False, "the database is not open (startup did not finish)")
    started = time.perf_counter()
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_SECONDS), database.read() as connection:
            await connection.execute(sa.text("SELECT 1"))
    except TimeoutError:
        return HealthReport("database", False, f"no answer within {CHECK_TIMEOUT_SECONDS:g} s")
    except Exception as exc:
        database.outage.report(exc)  # an outage noticed here is logged (once) like any other
        # The first line is the driver's reason ("connection refused"); the rest is SQL noise.
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        return HealthReport("database", False, f"{type(exc).__name__}: {reason}")
    elapsed_ms = (time.perf_counter() - started) * 1000
    return HealthReport("database", True, f"{database.dialect} answered in {elapsed_ms:.1f} ms")

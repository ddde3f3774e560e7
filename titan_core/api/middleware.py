"""Turns every failure into the IDTA error body (`{"messages": [...]}`) with the right status."""

from __future__ import annotations

import json
import logging

from aiohttp import web
from aiohttp.typedefs import Handler

from titan_core.errors import (
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    ServiceUnavailable,
    TitanError,
)
from titan_core.keys import DATABASE, SETTINGS
from titan_core.logsafe import loggable

log = logging.getLogger(__name__)


def error_response(error: TitanError) -> web.Response:
    response = web.Response(
        status=error.status,
        body=json.dumps(error.to_body()).encode(),
        content_type="application/json",
    )
    if isinstance(error, ServiceUnavailable):
        response.headers["Retry-After"] = str(error.retry_after_s)
    return response


@web.middleware
async def idta_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except TitanError as error:
        return error_response(error)
    except web.HTTPRequestEntityTooLarge:
        limit = request.app[SETTINGS].max_body_bytes
        return error_response(
            PayloadTooLarge(
                f"the request body is larger than the {limit} bytes this server accepts "
                "(setting max_body_bytes)"
            )
        )
    except web.HTTPNotFound:
        return error_response(NotFound(f"no such resource: {request.method} {request.path}"))
    except web.HTTPMethodNotAllowed as exc:
        allowed = ", ".join(sorted(exc.allowed_methods))
        response = error_response(
            MethodNotAllowed(f"{request.method} is not allowed on {request.path}; allowed: {allowed}")
        )
        response.headers["Allow"] = ",".join(sorted(exc.allowed_methods))
        return response
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return error_response(TitanError(exc.reason or "error", status=exc.status, code=str(exc.status)))
    except Exception as exc:
        # The database away (restarting, unreachable) is no bug: 503 and one WARNING in all.
        database = request.app.get(DATABASE)
        if database is not None and database.outage.report(exc):
            database.outage.refused += 1
            return error_response(
                ServiceUnavailable("the database is not reachable now; retry the request in a few seconds")
            )
        log.exception("unhandled error in %s %s", loggable(request.method), loggable(request.path))
        return error_response(TitanError("internal server error; the server log has the details"))

"""The ceiling: a bare aiohttp handler answering every GET with ready-made bytes (the Nameplate submodel).

No routing work, no database, no serialisation: what aiohttp plus the load generator can do on this
machine. Titan's throughput is reported as a fraction of it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from aiohttp import web

PAYLOAD = web.AppKey("payload", bytes)


async def answer_with_payload(request: web.Request) -> web.Response:
    return web.Response(body=request.app[PAYLOAD], content_type="application/json")


def create_ceiling_app(payload: bytes) -> web.Application:
    """An app whose every GET path returns `payload`, so the benchmark can use Titan's URLs unchanged."""
    app = web.Application()
    app[PAYLOAD] = payload
    app.router.add_get("/{tail:.*}", answer_with_payload)
    return app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("payload", type=Path, help="file whose bytes every GET returns")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    args = parser.parse_args(argv)
    payload = args.payload.read_bytes()
    print(f"ceiling: {len(payload)} bytes on {args.host}:{args.port}", flush=True)
    web.run_app(create_ceiling_app(payload), host=args.host, port=args.port, access_log=None, print=None)
    return 0


if __name__ == "__main__":
    sys.exit(main())

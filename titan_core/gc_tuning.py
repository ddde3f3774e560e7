"""Garbage-collector settings for a long-running server process.

Every request and every event allocates short-lived objects, many in reference cycles (asyncio
tasks and futures, exceptions), so CPython's cycle collector runs constantly with its defaults,
and each full collection walks every object the process holds: the imported libraries, the
events the memory bus retains, the open connections. While the MQTT sink published 5,000 events
a second (bench/mqtt_bench.py rest), full collections took REST p99 from 1.8 ms to 59 ms.

So `titan serve` collects once at start-up and freezes what exists then (libraries, schemas,
compiled statements: never scanned again), and lets far more allocations pass between
collections. Full collections still happen, every few seconds under load, over the live data only.

`titan load` does the same before it starts its workers (they inherit it): reading a package and
handing it to the storing process builds thousands of dicts and lists per file, none in a cycle,
and the default thresholds collected every 700 of them (a fifth of the load's CPU; docs/performance.md).
"""

from __future__ import annotations

import gc

# Allocations between young collections (default 700), young collections per middle one (10),
# middle ones per full one (10).
SERVING_THRESHOLDS = (50_000, 20, 10)


def tune_for_serving() -> None:
    """Call once the app is built, before serving."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*SERVING_THRESHOLDS)


def tune_for_loading() -> None:
    """Call before `titan load` starts; worker processes forked later inherit the settings."""
    tune_for_serving()

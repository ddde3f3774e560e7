"""The core's metrics, read from live state when Prometheus scrapes: events, the relay, each sink,
the bus, the outbox and the database pool. Nothing here costs anything between scrapes.

What only the database knows (outbox depth, the relay lease) is read by the `/metrics` handler just
before it renders (`DeliveryState`), since collectors are synchronous.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from aiohttp import web
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, InfoMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from titan_core import __version__
from titan_core.delivery.runner import SinkState
from titan_core.keys import DATABASE, EVENT_PIPELINE, REPOSITORY
from titan_core.metrics.live_state import DeliveryState
from titan_core.store.outbox import OutboxRecorder

# Each per-sink metric (labelled by sink and fanout) as (family, name, help), in the order of
# `_sink_samples`.
_SINK_METRICS: tuple[tuple[type[CounterMetricFamily | GaugeMetricFamily], str, str], ...] = (
    (CounterMetricFamily, "titan_sink_delivered_events", "Events each sink took from this instance."),
    (GaugeMetricFamily, "titan_sink_position_titanseq", "The titanseq each sink has delivered up to."),
    (
        GaugeMetricFamily,
        "titan_sink_lag_events",
        "Events each sink is behind the head (only where this instance delivers the sink).",
    ),
    (CounterMetricFamily, "titan_sink_lost_events", "Events each sink will never get (no longer retained)."),
    (CounterMetricFamily, "titan_sink_failures", "Failed delivery attempts of each sink (each is retried)."),
    (GaugeMetricFamily, "titan_sink_failing", "1 while a sink's deliveries fail (it retries with backoff)."),
    (
        GaugeMetricFamily,
        "titan_sink_owner",
        "1 where this instance delivers the sink now (a `once` sink is owned by one instance).",
    ),
)


def _sink_samples(state: SinkState, active: bool, head: int) -> tuple[float | None, ...]:
    """One sink's value for each of `_SINK_METRICS`; None: no sample (lag only where it delivers)."""
    return (
        state.delivered_events,
        state.delivered_seq,
        max(0, head - state.delivered_seq) if active else None,
        state.lost_events,
        state.failed_attempts,
        1.0 if state.failing_since is not None else 0.0,
        1.0 if active else 0.0,
    )


class CoreCollector(Collector):
    """Reads the app's pipeline, database and the last `DeliveryState` on every `collect()`."""

    def __init__(self, app: web.Application) -> None:
        self._app = app
        self.delivery = DeliveryState()  # replaced by the /metrics handler before each render

    def collect(self) -> Iterator[Metric]:
        info = InfoMetricFamily("titan", "Titan-AAS version.")
        info.add_metric([], {"version": __version__})
        yield info
        yield from self._events()
        yield from self._sinks()
        yield from self._delivery_state()
        yield from self._database()

    # ------------------------------------------------------------------ events, relay, bus

    def _events(self) -> Iterator[Metric]:
        app = self._app
        repository = app.get(REPOSITORY)
        recorder = getattr(repository, "recorder", None)
        if isinstance(recorder, OutboxRecorder):
            yield _counter(
                "titan_events_committed",
                "Events committed to the outbox by this instance (the writes' own transactions).",
                recorder.committed_events,
            )
        pipeline = app.get(EVENT_PIPELINE)
        if pipeline is None:
            return
        relay = pipeline.relay
        yield _counter(
            "titan_events_published",
            "Events this instance's relay published onto the bus (first publication, not repairs).",
            relay.published_events,
        )
        yield _gauge(
            "titan_relay_leader", "1 while this instance holds the relay lease and publishes.", relay.leader
        )
        yield _gauge(
            "titan_relay_failing", "1 while this instance's relay cannot publish (bus or database away).",
            bool(relay.last_error),
        )  # fmt: skip
        bus = pipeline.bus
        yield _gauge("titan_bus_head_titanseq", "The newest titanseq this instance has seen.", bus.head())
        yield _gauge(
            "titan_bus_oldest_titanseq", "The oldest titanseq this instance still holds.", bus.log.oldest
        )
        reachable = getattr(bus, "reachable", True)
        yield _gauge(
            "titan_bus_up", "1 while the event bus answers (always 1 for the memory bus).", reachable
        )

    def _sinks(self) -> Iterator[Metric]:
        pipeline = self._app.get(EVENT_PIPELINE)
        if pipeline is None:
            return
        families = [
            family(name, help_text, labels=("sink", "fanout")) for family, name, help_text in _SINK_METRICS
        ]
        runner = pipeline.runner
        head = pipeline.bus.head()
        for state in runner.states.values():
            active = bool(runner.feeds[state.name].active) if state.name in runner.feeds else False
            for metric, value in zip(families, _sink_samples(state, active, head), strict=True):
                if value is not None:
                    metric.add_metric([state.name, state.fanout], value)
        yield from families

    def _delivery_state(self) -> Iterator[Metric]:
        state = self.delivery
        if state.pending_events is not None:
            yield _gauge(
                "titan_outbox_pending_events",
                f"Committed events waiting in the outbox for the relay (counted up to {100_000:,}).",
                state.pending_events,
            )
        if state.oldest_pending_age_s is not None:
            yield _gauge(
                "titan_outbox_oldest_pending_seconds",
                "How long the oldest event waiting in the outbox has waited (0 when none waits).",
                state.oldest_pending_age_s,
            )
        if state.lease is not None:
            yield _gauge(
                "titan_relay_lease_vacant", "1 when no instance holds the relay lease.", state.lease.vacant
            )
            yield _gauge(
                "titan_relay_lease_overdue_seconds",
                "How late the relay lease holder is renewing its lease (0 when on time).",
                state.lease.renewal_overdue_s,
            )

    # ------------------------------------------------------------------ database

    def _database(self) -> Iterator[Metric]:
        database = self._app.get(DATABASE)
        if database is None:
            return
        outage = database.outage
        yield _gauge("titan_database_up", "0 while the database is known to be unreachable.", not outage.down)
        yield _counter("titan_database_outages", "Database outages seen since start.", outage.outages)
        engines = {"read": database.read_engine}
        if database.write_engine is not database.read_engine:
            engines["write"] = database.write_engine
        size = GaugeMetricFamily("titan_database_pool_size", "Connections the pool keeps.", labels=["pool"])
        used = GaugeMetricFamily(
            "titan_database_pool_checked_out", "Pool connections in use now.", labels=["pool"]
        )
        overflow = GaugeMetricFamily(
            "titan_database_pool_overflow", "Connections open beyond the pool size now.", labels=["pool"]
        )
        for name, engine in engines.items():
            pool: Any = engine.sync_engine.pool
            for family, method in ((size, "size"), (used, "checkedout"), (overflow, "overflow")):
                reading = getattr(pool, method, None)
                if callable(reading):  # QueuePool's overflow() is negative while below its size
                    family.add_metric([name], max(0.0, float(reading())))
        yield from (size, used, overflow)


def _gauge(name: str, documentation: str, value: float | bool) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=float(value))


def _counter(name: str, documentation: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(name, documentation, value=float(value))

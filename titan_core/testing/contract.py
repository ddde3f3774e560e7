"""The sink contract check: any sink runs it against itself, through the core's own sink runner.

It checks what docs/plugins.md ("The sink contract") promises the rest of Titan: a well-formed sink,
events arriving in titanseq order, `deliver` returning only once its batch is delivered (the runner
acknowledges on return), raising when the destination is down so that nothing is lost and the
batch comes again, and a `deliver` that stops when the server does. The sink's destination is seen
through a `SinkProbe`, so the check needs no knowledge of the transport.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

from titan_core.delivery.bus import MemoryBus, OutgoingEvent
from titan_core.delivery.runner import SinkRunner, check_sinks
from titan_core.delivery.sink import Event, EventSink, requested_batch_size, retry_signal
from titan_core.testing.events import make_event
from titan_core.testing.waiting import wait_for_delivery


class SinkContractError(AssertionError):
    """The sink breaks a rule of the sink contract; the message names the rule and what happened."""


@dataclass
class SinkProbe:
    """How the check sees a sink's destination.

    `received`: the `id`s of the events the destination accepted, in the order they arrived
    (duplicates included: delivery is at least once). `break_destination` / `repair_destination`:
    make the destination refuse everything (a receiver answering 503, a broker that is down) and
    accept again; each may be async.
    """

    received: Callable[[], Sequence[str]]
    break_destination: Callable[[], Awaitable[None] | None]
    repair_destination: Callable[[], Awaitable[None] | None]


@dataclass(frozen=True)
class ContractLimits:
    """How long each step may take (seconds) and how many events each step sends."""

    events: int = 12
    delivery_timeout: float = 10.0
    shutdown_timeout: float = 5.0
    runner_batch_size: int = 5
    runner_timeout: float = 10.0
    retry_max: float = 0.2


async def check_sink_contract(
    sink: EventSink, probe: SinkProbe, limits: ContractLimits | None = None
) -> None:
    """Every check below, in order; the first broken rule raises `SinkContractError`."""
    chosen = limits or ContractLimits()
    check_sink_shape(sink)
    await check_ordering(sink, probe, chosen)
    await check_batch_acknowledgement(sink, probe, chosen)
    await check_retries(sink, probe, chosen)
    await check_shutdown(sink, probe, chosen)


def check_sink_shape(sink: EventSink) -> None:
    """A name the bus can key a position by, a known fan-out, `async def deliver`, and optional
    capabilities (`batch_size`, `retry_now`) of the right types."""
    try:
        check_sinks([sink])
    except ValueError as problem:
        raise SinkContractError(str(problem)) from None
    if not inspect.iscoroutinefunction(getattr(sink, "deliver", None)):
        raise SinkContractError(f"sink {sink.name!r} needs `async def deliver(self, events)`")


async def check_ordering(sink: EventSink, probe: SinkProbe, limits: ContractLimits) -> None:
    """Events published in two bursts arrive, each at least once, first arrivals in titanseq order."""
    events = _fresh_events(limits.events)
    async with _running(sink, limits) as (bus, _runner):
        half = len(events) // 2
        await _publish(bus, events[:half])
        await _publish(bus, events[half:])
        await _wait_received(probe, events, limits, "in order")
    _check_order(sink, probe, events)


async def check_batch_acknowledgement(sink: EventSink, probe: SinkProbe, limits: ContractLimits) -> None:
    """When `deliver` returns, every event of its batch has reached the destination: the runner
    acknowledges the batch (moves the sink's position past it) on that return."""
    events = _fresh_events(limits.runner_batch_size)
    await sink.deliver(events)
    missing = _missing(probe, events)
    if missing:
        raise SinkContractError(
            f"sink {sink.name!r}: deliver() returned while {len(missing)} of its {len(events)} events had not "
            f"reached the destination (ids {missing[:3]}); return only once the whole batch is delivered, "
            "because Titan acknowledges the batch on return and a crash then loses the rest"
        )


async def check_retries(sink: EventSink, probe: SinkProbe, limits: ContractLimits) -> None:
    """While the destination refuses, `deliver` raises (so the runner keeps the batch); once it
    accepts again, every event arrives, in order."""
    events = _fresh_events(limits.events)
    await _call(probe.break_destination)
    try:
        async with _running(sink, limits) as (bus, runner):
            await _publish(bus, events)
            state = runner.states[sink.name]
            await _wait(
                lambda: state.failed_attempts > 0, limits,
                f"sink {sink.name!r} did not raise while its destination refused: raise from deliver() when "
                "a batch was not delivered, or Titan counts it delivered and the events are lost",
            )  # fmt: skip
            await _call(probe.repair_destination)
            await _wait_received(probe, events, limits, "after the destination came back")
    finally:
        await _call(probe.repair_destination)
    _check_order(sink, probe, events)


async def check_shutdown(sink: EventSink, probe: SinkProbe, limits: ContractLimits) -> None:
    """Stopping the runner while `deliver` is failing or in progress ends within `shutdown_timeout`:
    `deliver` must let itself be cancelled (no `except BaseException`, no shielded waits)."""
    events = _fresh_events(limits.events)
    await _call(probe.break_destination)
    try:
        bus, runner = _runner(sink, limits)
        watched = runner.sinks[0]
        assert isinstance(watched, _Watched)
        await runner.start()
        await _publish(bus, events)
        # Stop once a retry has begun: a `deliver` that shields itself is caught in the act.
        await _wait(
            lambda: watched.calls >= 2, limits,
            f"sink {sink.name!r} was not called again after a failed delivery while its destination refused",
        )  # fmt: skip
        stopping = asyncio.ensure_future(runner.stop())
        done, _ = await asyncio.wait({stopping}, timeout=limits.shutdown_timeout)
        if not done:
            # Give the runner (which cancels again every half second) a while longer before the
            # check gives up, so a sink that only delays leaves no running task behind.
            await asyncio.wait({stopping}, timeout=5 * limits.shutdown_timeout)
            raise SinkContractError(
                f"sink {sink.name!r}: stopping its runner took longer than {limits.shutdown_timeout:g} s; "
                "deliver() must end when it is cancelled, or the server cannot shut down"
            )
    finally:
        await _call(probe.repair_destination)


# --- helpers ------------------------------------------------------------------------------------


class _Watched:
    """The sink as the runner sees it, counting `deliver` calls; its optional capabilities pass on."""

    def __init__(self, sink: EventSink) -> None:
        self.sink = sink
        self.name = sink.name
        self.fanout = sink.fanout
        self.calls = 0
        batch_size = requested_batch_size(sink)
        if batch_size is not None:
            self.batch_size = batch_size
        signal = retry_signal(sink)
        if signal is not None:
            self.retry_now = signal

    async def deliver(self, events: Sequence[Event]) -> None:
        self.calls += 1
        await self.sink.deliver(events)


def _runner(sink: EventSink, limits: ContractLimits) -> tuple[MemoryBus, SinkRunner]:
    bus = MemoryBus(retention=10_000, backlog_limit=100_000)
    runner = SinkRunner(
        bus, [_Watched(sink)], batch_size=limits.runner_batch_size, timeout_s=limits.runner_timeout,
        retry_max_s=limits.retry_max,
    )  # fmt: skip
    return bus, runner


@asynccontextmanager
async def _running(sink: EventSink, limits: ContractLimits) -> AsyncIterator[tuple[MemoryBus, SinkRunner]]:
    bus, runner = _runner(sink, limits)
    await runner.start()
    try:
        yield bus, runner
    finally:
        await runner.stop()


def _fresh_events(count: int) -> list[Event]:
    """Events with titanseq 1..count and ids never used before (a sink may remember ids it saw)."""
    return [make_event(seq, data=float(seq)) for seq in range(1, count + 1)]


async def _publish(bus: MemoryBus, events: Sequence[Event]) -> None:
    await bus.publish([OutgoingEvent(event.titanseq, event.json) for event in events])


def _missing(probe: SinkProbe, events: Sequence[Event]) -> list[str]:
    received = set(probe.received())
    return [str(event.envelope["id"]) for event in events if event.envelope["id"] not in received]


async def _wait_received(
    probe: SinkProbe, events: Sequence[Event], limits: ContractLimits, when: str
) -> None:
    await _wait(
        lambda: not _missing(probe, events), limits,
        lambda: f"{len(_missing(probe, events))} of {len(events)} events never reached the destination {when}",
    )  # fmt: skip


async def _wait(done: Callable[[], bool], limits: ContractLimits, message: str | Callable[[], str]) -> None:
    try:
        await wait_for_delivery(done, timeout=limits.delivery_timeout, message=message)
    except AssertionError as failed:
        raise SinkContractError(str(failed)) from None


def _check_order(sink: EventSink, probe: SinkProbe, events: Sequence[Event]) -> None:
    wanted = [str(event.envelope["id"]) for event in events]
    position = {identifier: index for index, identifier in enumerate(wanted)}
    first_arrivals: list[int] = []
    seen: set[str] = set()
    for identifier in probe.received():
        if identifier in position and identifier not in seen:
            seen.add(identifier)
            first_arrivals.append(position[identifier] + 1)
    if first_arrivals != sorted(first_arrivals):
        raise SinkContractError(
            f"sink {sink.name!r} delivered out of titanseq order: first arrivals {first_arrivals}; events of "
            "one twin must arrive in the order their changes were committed"
        )


async def _call(action: Callable[[], Awaitable[None] | None]) -> None:
    outcome = action()
    if inspect.isawaitable(outcome):
        await outcome

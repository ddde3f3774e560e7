"""The plugin authors' kit (titan_core.testing) on its own: the sink contract check passes a sink
that keeps the contract and names the rule a broken sink breaks; the app factory loads exactly the
plugins asked for; the entry-point check holds the loaded plugin to its project; waiting has a
deadline and says what did not happen."""

from __future__ import annotations

import asyncio
import contextlib
import re
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from titan_core.plugin_api import Event, Fanout, Settings
from titan_core.testing import (
    ContractLimits,
    RecordingSink,
    SinkContractError,
    TitanClients,
    check_entry_point,
    check_shutdown,
    check_sink_contract,
    check_sink_shape,
    json_refs,
    kill_process,
    stop_process,
    wait_for_delivery,
)

QUICK = ContractLimits(events=6, delivery_timeout=3.0, shutdown_timeout=2.0)


async def test_a_recording_sink_keeps_the_sink_contract() -> None:
    sink = RecordingSink("recorder")

    await check_sink_contract(sink, sink.probe(), QUICK)

    # Every event of the ordering (6), acknowledgement (5) and retry (6) steps arrived.
    assert len(set(sink.ids)) >= 6 + 5 + 6


class ReturnsEarly(RecordingSink):
    """Hands the batch to a background task and returns at once: a crash would lose it."""

    def __init__(self) -> None:
        super().__init__("early")
        self._pending: set[asyncio.Task[None]] = set()

    async def deliver(self, events: Sequence[Event]) -> None:
        task = asyncio.get_running_loop().create_task(self._later(list(events)))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _later(self, events: list[Event]) -> None:
        await asyncio.sleep(0.05)
        await RecordingSink.deliver(self, events)


class SwallowsFailures(RecordingSink):
    """Logs a failed delivery instead of raising: the runner counts the batch as delivered."""

    async def deliver(self, events: Sequence[Event]) -> None:
        if self.refusing:
            return
        await super().deliver(events)


class Reorders(RecordingSink):
    async def deliver(self, events: Sequence[Event]) -> None:
        await super().deliver(list(reversed(events)))


class IgnoresCancellation(RecordingSink):
    """Waits out its destination and carries on when cancelled: the server could never stop."""

    attempts = 0

    async def deliver(self, events: Sequence[Event]) -> None:
        if self.refusing:
            self.attempts += 1
            if self.attempts == 1:
                raise RuntimeError("first attempt fails")
            until = time.monotonic() + 4  # the bug the check is for, bounded so the test itself ends
            while time.monotonic() < until:
                with contextlib.suppress(asyncio.CancelledError):  # carrying on when told to stop
                    await asyncio.sleep(until - time.monotonic())
        await super().deliver(events)


@pytest.mark.parametrize(
    ("sink", "rule"),
    [
        (ReturnsEarly(), r"deliver\(\) returned while 5 of its 5 events had not reached the destination"),
        (SwallowsFailures("swallows"), "did not raise while its destination refused"),
        (Reorders("reorders"), "delivered out of titanseq order"),
    ],
    ids=["returns-early", "swallows-failures", "reorders"],
)
async def test_the_contract_check_names_the_rule_a_broken_sink_breaks(sink: RecordingSink, rule: str) -> None:
    with pytest.raises(SinkContractError, match=rule):
        await check_sink_contract(sink, sink.probe(), QUICK)


async def test_the_shutdown_check_catches_a_deliver_that_ignores_cancellation() -> None:
    sink = IgnoresCancellation("stubborn")

    with pytest.raises(
        SinkContractError, match=r"stopping its runner took longer than 2 s; deliver\(\) must end"
    ):
        await check_shutdown(sink, sink.probe(), QUICK)


class BadBatchSize:
    name = "bad-batch"
    fanout: Fanout = "once"
    batch_size = 0

    async def deliver(self, events: Sequence[Event]) -> None:
        return None


def test_a_bad_optional_capability_is_refused_by_the_shape_check() -> None:
    with pytest.raises(SinkContractError, match="asks for batch_size 0; use a whole number >= 1 or None"):
        check_sink_shape(BadBatchSize())


async def test_wait_for_delivery_fails_after_its_deadline_with_its_message() -> None:
    arrived: list[int] = []

    with pytest.raises(AssertionError, match=r"not within 0.1 s: 0 of 3 events arrived"):
        await wait_for_delivery(
            lambda: len(arrived) >= 3, timeout=0.1, message=lambda: f"{len(arrived)} of 3 events arrived"
        )


async def test_the_app_factory_loads_exactly_the_named_installed_plugins(
    make_titan_client: TitanClients,
) -> None:
    client = await make_titan_client(plugins=["webhook"])

    body = await (await client.get("/ready")).json()

    loaded = sorted(plugin["name"] for plugin in body["plugins"] if plugin["state"] == "loaded")
    assert loaded == ["api_keys", "health", "jwt", "webhook"]
    with pytest.raises(AssertionError, match="plugin 'no-such-plugin' did not load: named in plugins"):
        await make_titan_client(plugins=["no-such-plugin"])


def test_the_entry_point_check_holds_the_loaded_plugin_to_its_project(
    titan_settings: Settings, tmp_path: Path
) -> None:
    webhook_dir = Path(__file__).resolve().parents[2] / "plugins" / "titan_plugin_webhook"
    record = check_entry_point(titan_settings, webhook_dir, "webhook", "titan_plugin_webhook.plugin")
    assert (record.name, record.state, record.distribution) == ("webhook", "loaded", "titan-aas-webhook")

    with pytest.raises(AssertionError, match=r"declares .*'webhook': 'titan_plugin_webhook\.plugin'.* not"):
        check_entry_point(titan_settings, webhook_dir, "webhook", "titan_plugin_webhook.elsewhere")
    project = (webhook_dir / "pyproject.toml").read_text(encoding="utf-8")
    (tmp_path / "pyproject.toml").write_text(
        project.replace(f'version = "{record.version}"', 'version = "0.0.0"', 1)
    )
    with pytest.raises(
        AssertionError, match=rf"loaded as version '{re.escape(record.version)}'.* not '0\.0\.0'"
    ):
        check_entry_point(titan_settings, tmp_path, "webhook", "titan_plugin_webhook.plugin")


def test_json_refs_lists_every_ref_string_in_document_order() -> None:
    document = {
        "a": {"$ref": "#/components/schemas/A", "items": [{"$ref": "#/b"}, {"x": 1}]},
        "b": [{"$ref": "#/b"}, "#/not-a-ref"],
        "c": {"$ref": {"not": "a string"}, "description": "$ref"},
    }

    assert json_refs(document) == ["#/components/schemas/A", "#/b", "#/b"]
    assert json_refs([]) == [] and json_refs("#/x") == []


def test_stop_process_stops_with_the_signal_and_kill_process_crashes() -> None:
    """A child that ends on the signal is reaped with its exit by that signal; one that ignores it
    is killed after the grace period; `kill_process` kills at once."""
    ignores_term = (
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "print('ready', flush=True); time.sleep(600)"
    )
    sleeper = "import time; print('ready', flush=True); time.sleep(600)"

    def started(code: str) -> subprocess.Popen[str]:
        child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
        assert child.stdout is not None and child.stdout.readline() == "ready\n", "the child did not start"
        return child

    child = started(sleeper)
    stop_process(child, stop_signal=signal.SIGINT)
    assert child.returncode == -signal.SIGINT, "the child ended by the signal it was sent, not killed"

    stubborn = started(ignores_term)
    stop_process(stubborn, grace=0.5)
    assert stubborn.returncode == -signal.SIGKILL, "a child ignoring SIGTERM is killed after the grace period"

    crashed = started(sleeper)
    kill_process(crashed)
    assert crashed.returncode == -signal.SIGKILL
    stop_process(crashed)  # an ended child: nothing to do, no error


async def test_a_sink_given_to_the_app_factory_receives_a_rest_write(
    make_titan_client: TitanClients, recording_sink: RecordingSink
) -> None:
    client = await make_titan_client(sinks=[recording_sink])

    response = await client.post(
        "/concept-descriptions", json={"modelType": "ConceptDescription", "id": "urn:kit:1"}
    )
    assert response.status == 201, await response.text()

    await recording_sink.wait_for(lambda events: len(events) >= 1)
    assert [(event.envelope["titanid"], event.envelope["type"]) for event in recording_sink.events] == [
        ("urn:kit:1", "io.admin-shell.events.v1.created")
    ]


def test_the_kit_is_a_pytest_plugin_registered_by_the_core_distribution() -> None:
    from importlib.metadata import entry_points

    (entry,) = [entry for entry in entry_points(group="pytest11") if entry.name == "titan"]

    assert entry.value == "titan_core.testing.pytest_plugin"
    assert entry.dist is not None and entry.dist.name == "titan-aas"

"""Helpers of the MQTT plugin tests: a plain subscriber that records what the broker delivers,
AAS documents, and checks of published envelopes."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Protocol
from urllib.parse import urlsplit

import aiohttp
import aiomqtt
import titan_plugin_mqtt.plugin
from aiohttp import web
from cloudevents.core.formats.json import JSONFormat

from tests.support import twins
from tests.support.app import AppClient
from tests.support.twins import b64 as b64  # re-exported: the area's tests import it from here
from tests.support.twins import reading as prop  # this area's Property: a double, 1.5 by default
from titan_core.app import create_app
from titan_core.eventtypes.schema import validate_envelope
from titan_core.plugins import get_plugin_manager
from titan_core.settings import Settings

EVENT_PREFIX = "io.admin-shell.events.v1."


class MqttAppFactory(Protocol):
    """`make_mqtt_app(url=None, **mqtt_settings)`: a started test client of an app with the plugin."""

    async def __call__(
        self, url: str | None = None, /, *, core: dict[str, Any] | None = None, **mqtt: Any
    ) -> AppClient: ...


def build_app(settings: Settings) -> web.Application:
    """`create_app` with the built-ins and the MQTT plugin only (no other installed plugin)."""
    manager = get_plugin_manager(settings, load_entry_points=False)
    manager.add_plugin(titan_plugin_mqtt.plugin, "mqtt", version="test", distribution="titan-aas-mqtt")
    return create_app(settings, plugin_manager=manager)


@dataclass(frozen=True)
class Received:
    topic: str
    payload: bytes
    qos: int
    retain: bool
    properties: Any

    def envelope(self) -> dict[str, Any]:
        return assert_cloudevent(self.payload)

    @property
    def short_type(self) -> str:
        return str(self.envelope()["type"]).removeprefix(EVENT_PREFIX)


def assert_cloudevent(payload: bytes) -> dict[str, Any]:
    """The payload is a Titan envelope: it validates, and parses with the CloudEvents SDK."""
    envelope: dict[str, Any] = json.loads(payload)
    validate_envelope(envelope)
    parsed = JSONFormat().read(None, payload)
    attributes = parsed.get_attributes()
    assert (attributes["id"], attributes["type"], attributes["source"]) == (
        envelope["id"], envelope["type"], envelope["source"],
    )  # fmt: skip
    assert parsed.get_data() == envelope.get("data")
    return envelope


def broker_host_port(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or 1883


class Recorder:
    """A plain MQTT client (aiomqtt) that subscribes and keeps every message in arrival order.

    It reconnects on its own when the broker goes away and comes back (for the broker-crash
    test), and subscribes at QoS 2 so that each message arrives at the QoS it was published with.
    """

    def __init__(
        self,
        url: str,
        topics: Sequence[str],
        *,
        protocol: aiomqtt.ProtocolVersion = aiomqtt.ProtocolVersion.V5,
        client_id: str | None = None,
        clean: bool = True,
        **client_options: Any,
    ) -> None:
        self.host, self.port = broker_host_port(url)
        self.topics = list(topics)
        self.protocol = protocol
        self.client_id = client_id
        self.clean = clean
        self.client_options = client_options
        self.messages: list[Received] = []
        self.subscribed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Recorder:
        self._task = asyncio.create_task(self._run())
        async with asyncio.timeout(10):
            await self.subscribed.wait()
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            self.subscribed.clear()
            try:
                kwargs: dict[str, Any] = dict(self.client_options)
                if self.protocol == aiomqtt.ProtocolVersion.V5:
                    kwargs["clean_start"] = self.clean
                else:
                    kwargs["clean_session"] = self.clean
                async with aiomqtt.Client(
                    self.host, self.port, protocol=self.protocol, identifier=self.client_id, **kwargs
                ) as client:
                    for topic in self.topics:
                        await client.subscribe(topic, qos=2)
                    self.subscribed.set()
                    async for message in client.messages:
                        payload = message.payload if isinstance(message.payload, bytes) else b""
                        self.messages.append(
                            Received(
                                message.topic.value, payload, message.qos, message.retain, message.properties
                            )
                        )
            except aiomqtt.MqttError:
                await asyncio.sleep(0.02)

    def on(self, topic: str) -> list[Received]:
        return [message for message in self.messages if message.topic == topic]

    def events(self, *, under: str = "") -> list[Received]:
        """The non-empty messages on `.../events` topics (zero-length ones are retained clears)."""
        return [
            m
            for m in self.messages
            if m.topic.endswith("/events") and m.payload and m.topic.startswith(under)
        ]

    async def wait_for(
        self, condition: Callable[[list[Received]], bool], *, timeout: float = 10.0, what: str = ""
    ) -> list[Received]:
        deadline = time.monotonic() + timeout
        while not condition(self.messages):
            if time.monotonic() > deadline:
                shown = "\n".join(f"  {m.topic} {m.payload[:120]!r}" for m in self.messages[-20:])
                raise AssertionError(
                    f"{what or 'the expected messages'} did not arrive within {timeout} s; "
                    f"{len(self.messages)} arrived, the last ones:\n{shown}"
                )
            await asyncio.sleep(0.01)
        return self.messages

    async def wait_count(
        self, count: int, *, topic_filter: Callable[[Received], bool], timeout: float = 10.0
    ) -> list[Received]:
        await self.wait_for(
            lambda messages: sum(1 for m in messages if topic_filter(m)) >= count, timeout=timeout
        )
        return [m for m in self.messages if topic_filter(m)]


_barriers = itertools.count(1)


async def mqtt_barrier(client: AppClient, recorder: Recorder) -> Received:
    """Write a marker (a new concept description) over REST and wait until its event is on MQTT.

    Titan publishes events in titanseq order over one connection at one QoS, and the broker keeps
    that order for each subscriber, so once the marker has arrived every event of an earlier write
    has too: "nothing else came" is then a real assertion, with no sleep. The recorder must
    subscribe to the marker's topic (`{prefix}/#` does). Returns the marker's message.
    """
    marker_id = f"urn:titan-test:barrier:{next(_barriers)}:{time.time_ns()}"
    response = await client.post(
        "/concept-descriptions", json={"modelType": "ConceptDescription", "id": marker_id}
    )
    assert response.status == 201, await response.text()

    def is_marker(message: Received) -> bool:
        return (
            message.topic.endswith("/events")
            and bool(message.payload)
            and (json.loads(message.payload)["titanid"] == marker_id)
        )

    await recorder.wait_for(
        lambda messages: any(is_marker(m) for m in messages), what=f"the barrier event of {marker_id}"
    )
    return next(m for m in recorder.messages if is_marker(m))


# --- documents --------------------------------------------------------------------------------------

SHELL_ID = "https://example.com/ids/aas/mqtt-1"
SM_ID = "https://example.com/ids/sm/mqtt-1#with+chars"
CD_ID = "https://example.com/ids/cd/mqtt-1"


def shell(shell_id: str = SHELL_ID, submodels: Sequence[str] = ()) -> dict[str, Any]:
    return twins.shell(shell_id, submodels, id_short="MqttShell")


def submodel(submodel_id: str = SM_ID, elements: Sequence[dict[str, Any]] | None = None) -> dict[str, Any]:
    if elements is None:
        elements = [
            prop("Temperature", "20.5"),
            prop("Speed", "3", value_type="xs:int"),
            prop("Mode", "auto", value_type="xs:string"),
            *twins.box_and_series(),
            {"modelType": "Operation", "idShort": "Start"},
        ]
    return {
        "modelType": "Submodel",
        "id": submodel_id,
        "idShort": "MqttSubmodel",
        "submodelElements": list(elements),
    }


def concept_description(cd_id: str = CD_ID, id_short: str = "Temp") -> dict[str, Any]:
    return {"modelType": "ConceptDescription", "id": cd_id, "idShort": id_short}


async def publish_v5(url: str, topic: str, payload: bytes, *, qos: int = 1, **options: Any) -> None:
    """One MQTT 5 publish from a client of its own, as a device makes it. `options` are client
    options (`username`, `password`) and PUBLISH properties (`ResponseTopic`, `CorrelationData`)."""
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    client_options = {name: options.pop(name) for name in ("username", "password") if name in options}
    properties = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
    for name, value in options.items():
        setattr(properties, name, value)
    host, port = broker_host_port(url)
    async with aiomqtt.Client(host, port, protocol=aiomqtt.ProtocolVersion.V5, **client_options) as device:
        await device.publish(topic, payload, qos=qos, properties=properties)


ELEMENTS = f"/submodels/{b64(SM_ID)}/submodel-elements"


async def speed_of(client: AppClient, submodel_id: str) -> Any:
    """The `$value` of the Property `Speed` of `submodel_id` (a Property's `$value` is its bare value),
    as the ACL tests read what a device's write changed."""
    response = await client.get(f"/submodels/{b64(submodel_id)}/submodel-elements/Speed/$value")
    return await response.json()


async def call(client: AppClient, method: str, url: str, expected: int, **kwargs: Any) -> None:
    response = await client.request(method, url, **kwargs)
    assert response.status == expected, f"{method} {url}: {response.status} {await response.text()}"


async def lifecycle(client: AppClient, mqtt_url: str, prefix: str) -> None:
    """created/updated/valueChanged/deleted of a shell, a submodel and an element, REST and MQTT."""
    await call(client, "POST", "/shells", 201, json=shell())
    await call(client, "PUT", f"/shells/{b64(SHELL_ID)}", 204, json={**shell(), "idShort": "Renamed"})
    await call(client, "POST", "/submodels", 201, json=submodel())
    await call(client, "PUT", f"/submodels/{b64(SM_ID)}", 204, json={**submodel(), "idShort": "Renamed"})
    await call(client, "POST", ELEMENTS, 201, json=prop("Added", "2"))
    await call(client, "PUT", f"{ELEMENTS}/Added", 204, json=prop("Added", "3"))
    await call(client, "PATCH", f"{ELEMENTS}/Added/$value", 204, json=4.5)
    await publish_v5(mqtt_url, f"{prefix}/element/{b64(SM_ID)}/Temperature/value", b"21.5")
    await call(client, "DELETE", f"{ELEMENTS}/Added", 204)
    await call(client, "DELETE", f"/submodels/{b64(SM_ID)}", 204)
    await call(client, "DELETE", f"/shells/{b64(SHELL_ID)}", 204)


async def receive_ws(ws: aiohttp.ClientWebSocketResponse, kind: str) -> dict[str, Any]:
    """The next WebSocket message of type `kind` (others, such as pongs, are passed over)."""
    while True:
        message = json.loads(await ws.receive_str(timeout=10))
        if message["type"] == kind:
            return dict(message)

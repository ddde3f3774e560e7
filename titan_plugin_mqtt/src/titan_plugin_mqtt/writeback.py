"""Value write-back: a device publishes a bare value on `{prefix}/element/{b64}/{path}/value`
(as the configured MQTT principal) or on `{prefix}/device/{name}/element/{b64}/{path}/value` (as the
device's own principal, devices.py).

The value is applied through the Repository (`set_element_value`, origin `mqtt`), which checks it
against the element's type and the principal's roles and scopes; the `valueChanged` it causes goes
out like any other event. A write that is refused changes nothing and is answered on `…/value/error`
with `{"code", "message", "topic", "received"}`; with MQTT 5, a response topic under the reply prefix
(replies.py; and correlation data) gets the outcome too, success included. A response topic anywhere
else refuses the write. Codes: see `REFUSAL_CODES`. Everything a device sent is escaped before it
is logged (`titan_core.logsafe`).

Writes are applied concurrently, so that the Repository can commit many in one transaction, but
they reach the Repository in arrival order, so two writes to one element keep their order.
"""

from __future__ import annotations

import asyncio
import fnmatch
import json
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from titan_core.plugin_api import (
    BadRequest,
    Forbidden,
    Principal,
    Repository,
    TitanError,
    authorize_write,
    find_element,
    loggable,
)
from titan_plugin_mqtt.codec import Message, MessageProperties
from titan_plugin_mqtt.config import MqttConfig
from titan_plugin_mqtt.connection import MqttConnection, Outgoing
from titan_plugin_mqtt.devices import DEVICE_LEVEL, device_of, device_rules
from titan_plugin_mqtt.link import NotConnected
from titan_plugin_mqtt.replies import reply_refusal
from titan_plugin_mqtt.sink import MqttStats
from titan_plugin_mqtt.topics import ValueTopic, error_topic_of, parse_value_topic

log = logging.getLogger(__name__)

REFUSAL_CODES = {
    "writeback_disabled": "write-back is switched off (setting mqtt.writeback)",
    "payload_too_large": "the payload is larger than the setting mqtt.writeback_max_bytes",
    "bad_topic": "the topic's submodel id is not base64url, or its path is not an idShortPath",
    "unknown_device": "the device level of a {prefix}/device/{name}/… topic names no device of mqtt.devices",
    "bad_response_topic": "the MQTT 5 response topic is not under the reply prefix (mqtt.reply_prefix)",
    "forbidden": "the MQTT principal may not write this submodel (roles, scopes, mqtt.writeback_ids)",
    "malformed_json": "the payload is not one JSON value in UTF-8",
    "not_found": "no such submodel, or no element at that idShortPath",
    "no_value": "the element has no value (an Operation or a Capability)",
    "wrong_type": "the value does not fit the element's type",
    "internal_error": "Titan could not apply the write (database trouble); try again",
}
_NO_VALUE_TYPES = frozenset({"Operation", "Capability"})
_RECEIVED_SHOWN = 512  # characters of the payload echoed in an answer
_WARN_EVERY_S = 10.0


class WriteRefused(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Writer:
    """Who a write is made as, the prefix its value topic starts with, and where replies may go."""

    principal: Principal
    topic_prefix: str
    replies_under: str


@dataclass(frozen=True)
class Answer:
    code: str
    message: str
    topic: str
    received: str

    def json(self) -> bytes:
        body = {"code": self.code, "message": self.message, "topic": self.topic, "received": self.received}
        return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


class WriteBack:
    """Applies the value writes that arrive on the connection, and answers them."""

    def __init__(
        self,
        config: MqttConfig,
        stats: MqttStats,
        *,
        repository: Callable[[], Repository],
        max_path_depth: int,
    ) -> None:
        self.config = config
        self.stats = stats
        self.principal = Principal(
            subject=config.principal, roles=frozenset(config.principal_roles), scopes=config.principal_scopes
        )
        self.devices = device_rules(config.devices)
        self.connection: MqttConnection | None = None
        self._repository = repository
        self._max_path_depth = max_path_depth
        self._slots = asyncio.Semaphore(config.writeback_concurrency)
        self._running: set[asyncio.Task[None]] = set()
        self._warned: dict[str, float] = {}

    async def handle(self, message: Message) -> None:
        """Take one incoming message; returns once its write has reached the Repository's queue."""
        if message.retain or not message.payload:
            # A retained value is an old write replayed by the broker on subscribe, and an empty
            # payload is MQTT's way of clearing one: neither is a new write by a device.
            self.stats.writes_ignored += 1
            return
        await self._slots.acquire()
        # Tasks start in creation order and each hands its write to the Repository before its
        # first real wait, so writes reach the Repository in arrival order.
        task = asyncio.create_task(self._write_and_answer(message))
        self._running.add(task)
        task.add_done_callback(self._finished)

    async def drain(self, timeout: float) -> None:
        """Let writes in progress finish (the app is stopping), then cancel what is left."""
        if self._running:
            await asyncio.wait(set(self._running), timeout=timeout)
        for task in list(self._running):
            task.cancel()

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._running.discard(task)
        self._slots.release()
        if not task.cancelled() and task.exception() is not None:
            log.error("MQTT write-back task failed", exc_info=task.exception())

    async def _write_and_answer(self, message: Message) -> None:
        topic, payload = message.topic, message.payload
        received = _shown(payload)
        reply_to: str | None = None
        try:
            self._check_enabled_and_size(payload)
            writer = self._writer_of(topic)
            reply_to = self._reply_topic(message, writer)
            await self._write(writer, topic, payload)
        except WriteRefused as refusal:
            self.stats.writes_refused[refusal.code] += 1
            self._log_refusal(topic, refusal, received)
            answer = Answer(refusal.code, refusal.message, topic, received)
            await self._send(Outgoing(error_topic_of(topic), answer.json(), self.config.qos))
            await self._respond(message, reply_to, answer)
            return
        self.stats.writes_applied += 1
        await self._respond(message, reply_to, Answer("ok", "the value was applied", topic, received))

    def _check_enabled_and_size(self, payload: bytes) -> None:
        config = self.config
        if not config.writeback:
            raise WriteRefused(
                "writeback_disabled", "write-back is switched off on this Titan (mqtt.writeback)"
            )
        if len(payload) > config.writeback_max_bytes:
            raise WriteRefused(
                "payload_too_large",
                f"the payload has {len(payload)} bytes; at most {config.writeback_max_bytes} are accepted",
            )

    def _writer_of(self, topic: str) -> Writer:
        """The shared MQTT principal for `{prefix}/element/…`, a device's own for `{prefix}/device/{name}/…`."""
        prefix, replies = self.config.prefix, self.config.effective_reply_prefix
        name = device_of(prefix, topic)
        if name is None:
            return Writer(self.principal, prefix, f"{replies}/")
        device = self.devices.get(name)
        if device is None:
            # The configured names are not listed: a device has no business learning the others.
            raise WriteRefused(
                "unknown_device", f"{name!r} is no device of this Titan (setting mqtt.devices)"
            )
        return Writer(device.principal, f"{prefix}/{DEVICE_LEVEL}/{name}", f"{replies}/{name}/")

    def _reply_topic(self, message: Message, writer: Writer) -> str | None:
        """The checked MQTT 5 response topic (None: none given, or replies switched off)."""
        response_topic = message.properties.response_topic if message.properties is not None else None
        if not response_topic or not self.config.replies:
            return None
        refusal = reply_refusal(response_topic, writer.replies_under)
        if refusal is not None:
            raise WriteRefused("bad_response_topic", refusal)
        return response_topic

    async def _write(self, writer: Writer, topic: str, payload: bytes) -> None:
        try:
            target = parse_value_topic(writer.topic_prefix, topic, max_depth=self._max_path_depth)
        except BadRequest as error:
            raise WriteRefused("bad_topic", error.message) from None
        self._authorise(writer.principal, target)
        value = _parse_json(payload)
        repository = self._repository()
        try:
            await repository.set_element_value(
                target.submodel_id, target.path, value, origin="mqtt", principal=writer.principal
            )
        except BadRequest as error:
            raise WriteRefused(
                await self._classify(repository, target, writer.principal), str(error)
            ) from None
        except TitanError as error:
            # NotFound and Forbidden keep their names; anything else is no refusal a device can fix.
            code = _snake(error.code)
            raise WriteRefused(code if code in REFUSAL_CODES else "internal_error", str(error)) from None
        except Exception as error:
            log.exception("MQTT write to %s failed in the Repository", loggable(topic))
            raise WriteRefused("internal_error", f"{type(error).__name__}: {error}") from None

    def _authorise(self, principal: Principal, target: ValueTopic) -> None:
        """Refuse early what the Repository would refuse anyway (it checks the principal too)."""
        patterns = self.config.writeback_ids
        submodel_id = target.submodel_id
        if patterns and not any(fnmatch.fnmatchcase(submodel_id, pattern) for pattern in patterns):
            raise WriteRefused(
                "forbidden",
                f"write-back is restricted to submodels matching {', '.join(patterns)} (mqtt.writeback_ids); "
                f"{submodel_id!r} does not match",
            )
        try:
            authorize_write(principal, submodel_id)
        except Forbidden as refusal:
            settings = (
                "mqtt.principal_roles, mqtt.principal_scopes"
                if principal is self.principal
                else "mqtt.devices"
            )
            raise WriteRefused("forbidden", f"{refusal.message} (the MQTT principal: {settings})") from None

    async def _classify(self, repository: Repository, target: ValueTopic, principal: Principal) -> str:
        """`no_value` or `wrong_type` for a refused value: which one, the element's type tells."""
        try:
            stored = await repository.get("submodel", target.submodel_id, principal=principal)
            element = find_element(stored.document(), target.path)
        except (TitanError, LookupError):
            return "wrong_type"
        return "no_value" if element.get("modelType") in _NO_VALUE_TYPES else "wrong_type"

    async def _respond(self, message: Message, reply_to: str | None, answer: Answer) -> None:
        """Send `answer` to the checked response topic `reply_to` (nothing when None)."""
        if reply_to is None:
            return
        correlation = message.properties.correlation_data if message.properties is not None else None
        reply = MessageProperties(content_type="application/json", correlation_data=correlation)
        await self._send(Outgoing(reply_to, answer.json(), self.config.qos, properties=reply))

    async def _send(self, message: Outgoing) -> None:
        connection = self.connection
        if connection is None:
            return
        try:
            await connection.publish(message)
        except (NotConnected, ConnectionError) as error:
            log.warning("could not answer on %s: %s", loggable(message.topic), error)

    def _log_refusal(self, topic: str, refusal: WriteRefused, received: str) -> None:
        # A misconfigured device may send hundreds of bad writes a second: one warning per code
        # every few seconds, the rest at debug level (the counts are in /ready).
        now = time.monotonic()
        level = logging.DEBUG
        if now - self._warned.get(refusal.code, -_WARN_EVERY_S) >= _WARN_EVERY_S:
            self._warned[refusal.code] = now
            level = logging.WARNING
        log.log(
            level,
            "MQTT write refused (%s) on %s: %s; received %s (answered on %s/error; %d refused so far)",
            refusal.code, loggable(topic), loggable(refusal.message), loggable(received), loggable(topic),
            sum(self.stats.writes_refused.values()),
        )  # fmt: skip


def _parse_json(payload: bytes) -> Any:
    try:
        return json.loads(payload.decode("utf-8"), parse_constant=_no_constant)
    except UnicodeDecodeError as error:
        raise WriteRefused(
            "malformed_json", f"the payload is not UTF-8 text ({error.reason} at byte {error.start})"
        ) from None
    except ValueError as error:
        raise WriteRefused(
            "malformed_json",
            f'the payload is not JSON ({error}); send the bare value as JSON: 23.5, "on", true, {{...}}',
        ) from None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _shown(payload: bytes) -> str:
    text = payload.decode("utf-8", errors="replace")
    return text if len(text) <= _RECEIVED_SHOWN else text[:_RECEIVED_SHOWN] + "…"


def _snake(code: str) -> str:
    """`NotFound` -> `not_found`: the Repository's error codes in the style of the other codes."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", code).lower()

"""The plugin's settings: the `[mqtt]` table of the TOML file and the `TITAN_MQTT_*` variables.

Checked once at startup by the core's settings mechanism (`titan_core.settings`: each field names
what it accepts, a misspelt key is refused), so a typo stops the plugin with a message naming the
setting instead of failing on the first event or the first device write.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import ClassVar, Literal
from urllib.parse import unquote, urlsplit

from titan_core.plugin_api import (
    Choice,
    Number,
    ProfileError,
    SettingsError,
    SettingsSection,
    Text,
    Whole,
    entity_names,
    parse_profiles,
    setting,
)
from titan_plugin_mqtt.devices import DEVICE_LEVEL, device_rules

Protocol = Literal["3.1.1", "5"]
_PROTOCOLS: dict[str, Protocol] = {
    "5": "5",
    "5.0": "5",
    "v5": "5",
    "3.1.1": "3.1.1",
    "311": "3.1.1",
    "v311": "3.1.1",
}
_QOS = {"0": 0, "1": 1, "2": 2}
_SCHEMES = {"mqtt": False, "tcp": False, "mqtts": True, "ssl": True, "tls": True}
# A topic level may hold anything but the wildcards; the prefix is one or more such levels.
_PREFIX = re.compile(r"[^#+/\x00]+(/[^#+/\x00]+)*\Z")
_SHARED_GROUP = re.compile(r"[^#+/\x00]+\Z")


def _optional_qos() -> Choice[int]:
    # An empty value (`TITAN_MQTT_QOS_ELEMENT=`) means "as `qos`".
    return Choice(_QOS, accepted="0, 1 or 2 (or empty: as qos)", optional=True)


@dataclass(frozen=True)
class MqttConfig(SettingsSection):
    section: ClassVar[str] = "mqtt"
    # The broker: mqtt://host:port (plain) or mqtts://host:port (TLS); empty switches the plugin off.
    url: str = setting("", Text(secret=True))
    # "5" (MQTT 5.0) or "3.1.1". Response topics and correlation data need 5.
    protocol: Protocol = setting("5", Choice(_PROTOCOLS, accepted="5 or 3.1.1"))
    # Stable client ids matter for persistent sessions; empty generates titan-<host>-<random>.
    client_id: str = ""
    # False keeps the session (subscriptions, queued device writes) while Titan is away.
    clean_session: bool = True
    # MQTT 5, persistent session: how long the broker keeps it after a disconnect, in seconds.
    session_expiry: int = setting(3600, Whole(minimum=1))
    keepalive: int = setting(30, Whole(minimum=1))
    username: str = ""
    password: str = setting("", Text(secret=True))
    # TLS: CA bundle to trust (empty: the system's), client certificate and key (mutual TLS), and
    # tls_insecure to skip the host name check (test brokers only).
    tls_ca: str = ""
    tls_cert: str = ""
    tls_key: str = ""
    tls_insecure: bool = False
    # First topic level(s) of every topic: {prefix}/{titanentity}/{b64 id}/events.
    prefix: str = "titan"
    # QoS of published events, and per entity type (None: `qos`).
    qos: int = setting(1, Choice(_QOS, accepted="0, 1 or 2"))
    qos_shell: int | None = setting(None, _optional_qos())
    qos_submodel: int | None = setting(None, _optional_qos())
    qos_element: int | None = setting(None, _optional_qos())
    qos_concept_description: int | None = setting(None, _optional_qos())
    # Element events as retained messages (last-known-good values), cleared on delete.
    retain_elements: bool = False
    # Value write-back on {prefix}/element/+/+/value, optionally only for submodel ids matching
    # these shell-style patterns (https://plant.example/line1/*).
    writeback: bool = True
    writeback_ids: tuple[str, ...] = ()
    # Shared subscription group for write-back ($share/<group>/...), so that of several Titan
    # instances only one applies a write; empty subscribes plainly.
    shared_group: str = "titan"
    # Who MQTT writes on {prefix}/element/… are made as: subject, roles and identifier scopes
    # (empty: unrestricted).
    principal: str = "mqtt"
    principal_roles: tuple[str, ...] = ("reader", "writer")
    principal_scopes: tuple[str, ...] = ()
    # Per-device principals (devices.py): entries "name;role=writer;scope=pattern". A device writes
    # on {prefix}/device/{name}/element/…/value, which the broker's ACL (`pattern write
    # titan/device/%u/…`) lets only the user {name} publish to; Titan writes as that principal.
    devices: tuple[str, ...] = ()
    # MQTT 5 response topics: answered only under {reply_prefix}/ (default {prefix}/reply), and for
    # a device under {reply_prefix}/{name}/; any other response topic refuses the write. `replies`
    # false ignores response topics altogether.
    replies: bool = True
    reply_prefix: str = ""
    # Reconnect backoff: first and longest pause, in seconds (doubled per failed attempt).
    reconnect_min: float = setting(0.5, Number(minimum=0))
    reconnect_max: float = setting(30.0, Number(minimum=0))
    # QoS 1/2 publishes awaiting their acknowledgement at once.
    max_inflight: int = setting(1000, Whole(minimum=1))
    # Events per deliver() (instead of sink_batch_size): a batch goes out pipelined and the sink
    # waits once for all its acknowledgements, so larger batches publish faster.
    batch_size: int = setting(1000, Whole(minimum=1))
    # Write-back payloads larger than this are refused; writes applied at once.
    writeback_max_bytes: int = setting(262_144, Whole(minimum=1))
    writeback_concurrency: int = setting(512, Whole(minimum=1))
    # Seconds a deliver() waits for a broker connection before it fails (and is retried later).
    connect_wait: float = setting(5.0, Number(minimum=0))
    # After a reconnect, publish again the events the broker acknowledged in this many seconds
    # before the connection broke (0: never). A broker that crashed may have lost them although it
    # had acknowledged them: Mosquitto saves its state only every autosave_interval.
    republish_window: float = setting(2.0, Number(minimum=0))
    # Send each packet at once (TCP_NODELAY): without it, Nagle's algorithm and the broker's delayed
    # ACKs hold small packets back for up to 40 ms. With it the client also ACKs at once
    # (TCP_QUICKACK), for brokers that run Nagle. Turn off only to save packets on slow links.
    tcp_nodelay: bool = True
    # Event profiles to publish, several at once (titan_core/delivery/profiles.py, docs/mqtt.md):
    # "titan" on {prefix}/…/events, "async-aas" on `async_aas_topic`, "basyx" on BaSyx's topics.
    profiles: tuple[str, ...] = ("titan",)
    # The async-aas topic: FA³ST's CloudEvents message bus publishes every event on one topic, its
    # `topicPrefix` ("noauth", the channel address the async-aas files name). `{channel}` in it is
    # replaced by the spec's channel name (aas/created, submodelelement/update/valuechanged, …).
    async_aas_topic: str = "noauth"
    # BaSyx's repository names, the second level of its topics (basyx.aasrepo.name, basyx.smrepo.name).
    basyx_aas_repo: str = "aas-repo"
    basyx_sm_repo: str = "sm-repo"

    def check(self) -> None:
        if self.url:
            broker_address(self.url)
        if not _PREFIX.match(self.prefix):
            raise SettingsError(
                f"mqtt setting prefix must be topic levels without '#', '+' or empty levels, got {self.prefix!r}",
                setting="prefix",
            )
        if self.prefix.startswith("$"):
            raise SettingsError(
                f"mqtt setting prefix must not start with '$' (broker topics), got {self.prefix!r}",
                setting="prefix",
            )
        self._check_reply_prefix()
        self._check_profiles()
        device_rules(self.devices)  # raises SettingsError naming the entry at fault
        if self.shared_group and not _SHARED_GROUP.match(self.shared_group):
            raise SettingsError(
                f"mqtt setting shared_group must be one topic level without '#', '+' or '/', got {self.shared_group!r}",
                setting="shared_group",
            )
        if not self.clean_session and not self.client_id:
            raise SettingsError(
                "mqtt setting clean_session is false (a persistent session) but client_id is empty; "
                "a persistent session needs a fixed client_id (TITAN_MQTT_CLIENT_ID)",
                setting="clean_session",
            )
        if bool(self.tls_cert) != bool(self.tls_key):
            raise SettingsError("mqtt settings tls_cert and tls_key go together: set both or neither")
        if self.reconnect_max < self.reconnect_min or self.reconnect_min <= 0:
            raise SettingsError(
                "mqtt settings reconnect_min and reconnect_max: need 0 < reconnect_min <= reconnect_max, "
                f"got {self.reconnect_min:g} and {self.reconnect_max:g}"
            )

    def _check_reply_prefix(self) -> None:
        reply = self.effective_reply_prefix
        if not _PREFIX.match(reply) or reply.startswith("$"):
            raise SettingsError(
                "mqtt setting reply_prefix must be topic levels without '#', '+', empty levels or a "
                f"leading '$', got {reply!r}",
                setting="reply_prefix",
            )
        for root in self.titan_topic_roots:
            if reply == root or reply.startswith(root + "/") or root.startswith(reply + "/"):
                raise SettingsError(
                    f"mqtt setting reply_prefix {reply!r} overlaps Titan's own topics under {root}/: "
                    "replies must never land on event or value topics; use e.g. "
                    f"{self.prefix}/reply (the default)",
                    setting="reply_prefix",
                )

    def _check_profiles(self) -> None:
        try:
            parse_profiles(self.profiles, setting="mqtt.profiles")
        except ProfileError as error:
            raise SettingsError(str(error), setting="profiles") from None
        sample = self.async_aas_topic.replace("{channel}", "submodelelement/update/valuechanged")
        if not _PREFIX.match(sample) or sample.startswith("$"):
            raise SettingsError(
                "mqtt setting async_aas_topic must be topic levels without '#', '+', empty levels or a "
                f"leading '$' (`{{channel}}` may stand for the spec's channel name), got {self.async_aas_topic!r}",
                setting="async_aas_topic",
            )
        for name in ("basyx_aas_repo", "basyx_sm_repo"):
            if not _SHARED_GROUP.match(getattr(self, name)):
                raise SettingsError(
                    f"mqtt setting {name} must be one topic level without '#', '+' or '/', got {getattr(self, name)!r}",
                    setting=name,
                )

    @property
    def effective_reply_prefix(self) -> str:
        return self.reply_prefix or f"{self.prefix}/reply"

    @property
    def titan_topic_roots(self) -> tuple[str, ...]:
        """The topic subtrees Titan publishes events on or takes writes from: one per `titanentity`,
        the core's and those plugins registered (`titan_entity_kinds`), and the devices'."""
        return tuple(f"{self.prefix}/{level}" for level in (*entity_names(), DEVICE_LEVEL))

    @property
    def enabled(self) -> bool:
        return bool(self.url)

    @property
    def tls(self) -> bool:
        return bool(self.url) and (broker_address(self.url).tls or bool(self.tls_ca))

    def qos_for(self, entity: str) -> int:
        specific: int | None = getattr(self, f"qos_{entity}", None)
        return self.qos if specific is None else specific

    @property
    def value_subscription(self) -> str:
        """The topic filter of write-back, with the shared-subscription prefix when configured."""
        return self._shared(f"{self.prefix}/element/+/+/value")

    @property
    def value_subscriptions(self) -> tuple[str, ...]:
        """Every write-back topic filter: the plain one, and the per-device one when devices are set."""
        if not self.devices:
            return (self.value_subscription,)
        return self.value_subscription, self._shared(f"{self.prefix}/{DEVICE_LEVEL}/+/element/+/+/value")

    def _shared(self, topic: str) -> str:
        return f"$share/{self.shared_group}/{topic}" if self.shared_group else topic


@dataclass(frozen=True)
class BrokerAddress:
    host: str
    port: int
    tls: bool
    username: str
    password: str
    display: str  # the URL without credentials, for logs and /ready


def broker_address(url: str) -> BrokerAddress:
    """Host, port, TLS and credentials from `url`; `SettingsError` when it is no broker URL."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in _SCHEMES or not parts.hostname:
        raise SettingsError(
            f"mqtt setting url must look like mqtt://host:1883 or mqtts://host:8883, got {_without_password(url)!r}",
            setting="url",
        )
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise SettingsError(
            f"mqtt setting url takes no path or query, got {_without_password(url)!r}", setting="url"
        )
    tls = _SCHEMES[scheme]
    try:
        port = parts.port or (8883 if tls else 1883)
    except ValueError:
        raise SettingsError(
            f"mqtt setting url has an invalid port: {_without_password(url)!r}", setting="url"
        ) from None
    host = parts.hostname
    shown_host = f"[{host}]" if ":" in host else host
    return BrokerAddress(
        host=host,
        port=port,
        tls=tls,
        username=unquote(parts.username or ""),
        password=unquote(parts.password or ""),
        display=f"{'mqtts' if tls else 'mqtt'}://{shown_host}:{port}",
    )


def _without_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return url.replace(f":{parts.password}@", ":***@", 1)

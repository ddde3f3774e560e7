"""Event profiles: the one place that turns a published event into each profile's message.

Every transport asks here, so they all agree (docs/events.md, "Event profiles"):

- `titan` — the envelope as stored and published (`Event.json`), unchanged: transports send the
  bytes they already have, and nothing here runs for it.
- `async-aas` — the Factory-X proposal (tests/data/async-aas/): CloudEvents 1.0 with an absolute
  `source` under the configured public base URL, `dataschema` naming the Part 1 V3.0 schema of the
  subject, `semanticid` from the FIRST key of its semanticId (as the spec's base schema says), and
  `data` the whole entity or element — or no `data` at all in "slim" mode. `titanseq` is kept, so a
  WebSocket client can still resume `since` it; the other titan extensions are left out.
- `basyx` — Eclipse BaSyx's MQTT eventing (basyx-java-server-sdk, `*-feature-mqtt`): topics such as
  `sm-repository/{repoId}/submodels/{b64}/submodelElements/{idShortPath}/updated` and the whole
  entity or element as the payload, no envelope.

A `valueChanged` of the titan profile carries only the value; the other two need the whole element.
The outbox keeps it in the `element` column of the event's row (written with the change, so it is the
element as the change left it, not as it is when the event goes out). `EventElements` reads it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from titan_core.eventtypes.envelope import EVENT_TYPE_PREFIX, short_type
from titan_core.model.identifiers import encode_identifier
from titan_core.settings import SettingsError

if TYPE_CHECKING:
    from titan_core.settings import Settings

Profile = Literal["titan", "async-aas", "basyx"]
PROFILES: tuple[Profile, ...] = ("titan", "async-aas", "basyx")

# The meta-model Titan serves is V3.0 (aas-core3.0); the async-aas examples name V3.1.0, the version
# their authors served. The Part 2 V3.0 OpenAPI files point at this domain for their schemas.
DATASCHEMA_V30 = "https://api.swaggerhub.com/domains/Plattform_i40/Part1-MetaModel-Schemas/V3.0.1"
_MODEL_TYPE_OF_ENTITY = {
    "shell": "AssetAdministrationShell",
    "submodel": "Submodel",
    "concept_description": "ConceptDescription",
}
# CloudEvents attributes the async-aas envelope takes over from the titan one, in this order.
_COPIED = ("specversion", "id", "type", "source", "time", "datacontenttype")


class ProfileError(SettingsError):
    """A profile setting Titan cannot use; the message says what is accepted."""


def parse_profiles(raw: Any, *, setting: str) -> tuple[Profile, ...]:
    """A list of profile names (or one comma-separated string), checked and without repeats."""
    names = [part.strip() for part in raw.split(",")] if isinstance(raw, str) else list(raw or ())
    result: list[Profile] = []
    for name in names:
        if name not in PROFILES:
            raise ProfileError(
                f"setting {setting!r}: unknown event profile {name!r}; accepted: {', '.join(PROFILES)}"
            )
        if name not in result:
            result.append(name)
    if not result:
        raise ProfileError(f"setting {setting!r} names no event profile; accepted: {', '.join(PROFILES)}")
    return tuple(result)


def first_key_value(reference: Any) -> str | None:
    """The value of the first key of a Reference (the async-aas `semanticid`), if there is one."""
    if not isinstance(reference, Mapping):
        return None
    keys = reference.get("keys")
    if isinstance(keys, list) and keys and isinstance(keys[0], Mapping):
        value = keys[0].get("value")
        return value if isinstance(value, str) else None
    return None


def public_base_url(raw: str, *, host: str, port: int) -> str:
    """The absolute URL `source` is built on: the setting, or the address Titan listens on."""
    base = raw.strip() or f"http://{host}:{port}"
    if not base.startswith(("http://", "https://")) or " " in base:
        raise ProfileError(f"setting 'public_base_url' must be an absolute http(s) URL, got {raw!r}")
    return base.rstrip("/")


@dataclass(frozen=True)
class AsyncAasOptions:
    # Absolute http(s) URL, no trailing slash: `source` is this plus the REST path of the subject.
    base_url: str
    # Slim events carry no `data`.
    slim: bool = False
    dataschema_prefix: str = DATASCHEMA_V30

    @classmethod
    def from_settings(cls, settings: Settings) -> AsyncAasOptions:
        base = public_base_url(settings.public_base_url, host=settings.host, port=settings.port)
        return cls(base_url=base, slim=settings.async_aas_slim)


def event_subject(envelope: Mapping[str, Any], element: Mapping[str, Any] | None) -> Any:
    """The whole entity or element an event is about: `data`, or for a valueChanged the stored element."""
    if envelope["type"] == EVENT_TYPE_PREFIX + "valueChanged":
        return element
    return envelope.get("data")


def async_aas_envelope(
    envelope: Mapping[str, Any], options: AsyncAasOptions, *, element: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The async-aas form of a published titan envelope (`element`: the stored element of a valueChanged).

    A valueChanged whose element is not available (its outbox row is past retention) goes out slim.
    """
    result: dict[str, Any] = {name: envelope[name] for name in _COPIED if name in envelope}
    result["source"] = options.base_url + str(envelope["source"])
    subject = event_subject(envelope, element)
    model_type = _model_type(envelope, subject)
    if model_type is not None:
        result["dataschema"] = f"{options.dataschema_prefix}#/components/schemas/{model_type}"
    semantic_id = first_key_value(subject.get("semanticId")) if isinstance(subject, Mapping) else None
    if semantic_id is not None:
        result["semanticid"] = semantic_id
    if "titanseq" in envelope:
        result["titanseq"] = envelope["titanseq"]
    if not options.slim and subject is not None:
        result["data"] = subject
    return result


def _model_type(envelope: Mapping[str, Any], subject: Any) -> str | None:
    entity = str(envelope.get("titanentity"))
    if entity in _MODEL_TYPE_OF_ENTITY:
        return _MODEL_TYPE_OF_ENTITY[entity]
    if isinstance(subject, Mapping) and isinstance(subject.get("modelType"), str):
        return str(subject["modelType"])
    return None


@dataclass(frozen=True)
class BasyxOptions:
    # BaSyx's `basyx.aasrepo.name` and `basyx.smrepo.name` (their defaults).
    aas_repo_id: str = "aas-repo"
    sm_repo_id: str = "sm-repo"


@dataclass(frozen=True)
class BasyxMessage:
    topic: str
    payload: bytes


# BaSyx reports a value write as the element's `updated`, with the whole element.
_BASYX_ACTION = {"created": "created", "updated": "updated", "deleted": "deleted", "valueChanged": "updated"}


def basyx_message(
    envelope: Mapping[str, Any], options: BasyxOptions, *, element: Mapping[str, Any] | None = None
) -> BasyxMessage | None:
    """The BaSyx topic and payload of an event, or None where BaSyx has no such message.

    None for concept descriptions (BaSyx's concept description repository publishes no MQTT events),
    for the kinds plugins register (`titan_entity_kinds`: a registry's descriptors, a discovery's
    links; Titan maps only the repository's events onto BaSyx's repository topics, and guessing a
    topic for the others would mislead a BaSyx client), and for a valueChanged whose element is no
    longer stored (nothing whole to send).
    """
    entity = envelope.get("titanentity")
    action = _BASYX_ACTION.get(short_type(str(envelope["type"])))
    subject = event_subject(envelope, element)
    if action is None or subject is None:
        return None
    if entity == "shell":
        topic = f"aas-repository/{options.aas_repo_id}/shells/{action}"
    elif entity == "submodel":
        topic = f"sm-repository/{options.sm_repo_id}/submodels/{action}"
    elif entity == "element":
        submodel = encode_identifier(str(envelope["titanid"]))
        path = envelope["titanpath"]
        topic = f"sm-repository/{options.sm_repo_id}/submodels/{submodel}/submodelElements/{path}/{action}"
    else:
        return None
    return BasyxMessage(topic, json.dumps(subject, separators=(",", ":"), ensure_ascii=False).encode())


def dump_json(message: Mapping[str, Any]) -> bytes:
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode()

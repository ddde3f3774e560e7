"""The published contract stays in step with the code: every message type, error code and close
code of the plugin's protocol module is in docs/asyncapi.yaml and docs/events.md, and every `$ref`
of the AsyncAPI document resolves."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from titan_core.testing import json_refs
from titan_plugin_ws import protocol

DOCS = Path(__file__).resolve().parents[2] / "docs"
CLIENT_TYPES = {"auth", "subscribe", "unsubscribe", "ping"}
SERVER_TYPES = {"welcome", "subscribed", "event", "error", "pong"}


def error_codes() -> set[str]:
    names = ("BAD_MESSAGE", "UNKNOWN_SUBSCRIPTION", "HISTORY_EXPIRED", "FORBIDDEN", "UNAUTHENTICATED",
             "TOO_MANY_SUBSCRIPTIONS", "UNAVAILABLE")  # fmt: skip
    return {getattr(protocol, name) for name in names}


def close_codes() -> set[int]:
    return {value for name, value in vars(protocol).items() if name.startswith("CLOSE_")}


def asyncapi() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((DOCS / "asyncapi.yaml").read_text())
    return document


def test_asyncapi_is_version_3_and_every_ref_resolves() -> None:
    document = asyncapi()

    assert document["asyncapi"].startswith("3.")
    for ref in json_refs(document):
        assert ref.startswith("#/"), ref
        node: Any = document
        for part in ref[2:].split("/"):
            assert part in node, f"{ref} does not resolve"
            node = node[part]


def test_asyncapi_lists_every_message_type_in_the_right_direction() -> None:
    document = asyncapi()
    messages = document["components"]["messages"]
    operations = document["operations"]

    def types(operation: str) -> set[str]:
        names = [ref["$ref"].rsplit("/", 1)[-1] for ref in operations[operation]["messages"]]
        return {messages[name]["payload"]["properties"]["type"]["const"] for name in names}

    assert types("wsReceiveClientMessages") == CLIENT_TYPES
    assert types("wsSendServerMessages") == SERVER_TYPES
    assert document["channels"]["wsEvents"]["address"] == "/ws/events"


def test_asyncapi_error_codes_and_close_codes_match_the_protocol() -> None:
    document = asyncapi()
    enum = document["components"]["messages"]["wsError"]["payload"]["properties"]["code"]["enum"]

    assert set(enum) == error_codes()
    for code in close_codes():
        assert str(code) in document["info"]["description"]


def test_events_md_documents_every_message_type_error_code_and_close_code() -> None:
    text = (DOCS / "events.md").read_text()
    section = text[text.index("## WebSocket: `/ws/events`") :]

    for kind in CLIENT_TYPES | SERVER_TYPES:
        assert f'"type":"{kind}"' in section, kind
    for code in error_codes():
        assert f"| `{code}` |" in section, code
    for close in close_codes():
        assert f"| {close} |" in section, close

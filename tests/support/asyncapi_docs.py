"""Titan's AsyncAPI documents, read as a consumer would: parsed by the AsyncAPI Initiative's parser,
and their message schemas applied to payloads.

Documents (docs/events.md, "AsyncAPI documents"): the titan profile on both transports is
docs/asyncapi.yaml; the others are docs/asyncapi/<transport>-<profile>.yaml. Their `$ref`s point at
each other by relative file paths, resolved here from the files themselves (no network).

The parser is `@asyncapi/parser`, pinned in tools/asyncapi/package-lock.json and installed by
scripts/bootstrap.sh (`make venv`); tools/asyncapi/validate.mjs reports its diagnostics as JSON.
"""

from __future__ import annotations

import functools
import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema_rs
import yaml

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
TOOL = ROOT / "tools" / "asyncapi"

# (transport, profile) -> document. BaSyx defines MQTT topics only, so there is no WebSocket basyx.
DOCUMENTS: dict[tuple[str, str], Path] = {
    ("ws", "titan"): DOCS / "asyncapi.yaml",
    ("mqtt", "titan"): DOCS / "asyncapi.yaml",
    ("ws", "async-aas"): DOCS / "asyncapi" / "ws-async-aas.yaml",
    ("mqtt", "async-aas"): DOCS / "asyncapi" / "mqtt-async-aas.yaml",
    ("mqtt", "basyx"): DOCS / "asyncapi" / "mqtt-basyx.yaml",
}
# Bound on one parser run; the parser takes a few seconds of CPU per document.
PARSER_TIMEOUT_S = 300


def run_asyncapi_parser(*documents: Path) -> list[dict[str, Any]]:
    """The parser's report on each document: `{document, parsed, version, errors, warnings}`."""
    node = shutil.which("node")
    assert node is not None, "the AsyncAPI document checks need Node.js >= 18 (`node` is not on PATH)"
    assert (TOOL / "node_modules" / "@asyncapi" / "parser").is_dir(), (
        "the AsyncAPI parser is not installed in tools/asyncapi/node_modules: run `make venv` "
        "(scripts/bootstrap.sh runs `npm ci` there)"
    )
    completed = subprocess.run(
        [node, str(TOOL / "validate.mjs"), *map(str, documents)],
        capture_output=True,
        text=True,
        timeout=PARSER_TIMEOUT_S,
        check=False,
    )
    assert completed.returncode in (0, 1), (
        f"validate.mjs failed ({completed.returncode}): {completed.stderr}{completed.stdout}"
    )
    report: list[dict[str, Any]] = json.loads(completed.stdout)
    return [entry for entry in report if "document" in entry]


@functools.cache
def load(document: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(document.read_text(encoding="utf-8"))
    return loaded


def _retrieve(uri: str) -> Any:
    """The documents' cross-file `$ref`s: local files only, nothing else."""
    assert uri.startswith("file://"), f"an AsyncAPI document refers to {uri}, which is not a local file"
    return load(Path(uri.removeprefix("file://").split("#")[0]))


@functools.cache
def payload_validator(document: Path, message: str) -> Any:
    """A validator for the payload schema of `components/messages/<message>` of `document`."""
    assert message in load(document)["components"]["messages"], f"{document.name} has no message {message}"
    root = {"$ref": f"{document.as_uri()}#/components/messages/{message}/payload"}
    return jsonschema_rs.validator_for(root, retriever=_retrieve, validate_formats=True)


def payload_errors(document: Path, message: str, payload: Any) -> list[str]:
    errors = payload_validator(document, message).iter_errors(payload)
    return [f"{error.instance_path}: {error.message}" for error in errors]


def assert_payload_matches(document: Path, message: str, payload: Any) -> None:
    errors = payload_errors(document, message, payload)
    assert not errors, f"not a valid {message} of {document.name}: {errors}\n{payload}"


def examples(document: Path) -> Iterator[tuple[str, str, Any]]:
    """(message, example name, payload) of every example the document's own messages give."""
    for name, message in load(document)["components"]["messages"].items():
        for index, example in enumerate(message.get("examples", [])):
            yield name, str(example.get("name", index)), example["payload"]


def address_pattern(address: str) -> re.Pattern[str]:
    """A channel address as a regex: each `{parameter}` is one topic level, captured by name."""
    parts = re.split(r"\{([A-Za-z0-9_]+)\}", address)
    return re.compile(
        "".join(f"(?P<{part}>[^/]+)" if index % 2 else re.escape(part) for index, part in enumerate(parts))
        + "$"
    )


def channel_messages(document: Path, channel: str) -> list[str]:
    """The component message names a channel carries."""
    messages = load(document)["channels"][channel]["messages"]
    return [message["$ref"].rsplit("/", 1)[-1] for message in messages.values()]


def channels_for_topic(document: Path, topic: str) -> dict[str, dict[str, str]]:
    """The channels whose address the topic matches, each with its parameter values."""
    matches: dict[str, dict[str, str]] = {}
    for name, channel in load(document)["channels"].items():
        address = channel.get("address")
        found = address_pattern(address).match(topic) if isinstance(address, str) else None
        if found is not None:
            matches[name] = found.groupdict()
    return matches


def shape(event: dict[str, Any]) -> frozenset[str]:
    """An event's attributes, less those that depend on the twin (`semanticid`) or on slim mode."""
    return frozenset(event) - {"semanticid", "data"}


def assert_examples_look_like(
    document: Path, received: dict[str, list[Any]], *, client_messages: frozenset[str] = frozenset()
) -> None:
    """Every example of a message Titan sends has the attributes and data class of one it sent.

    `client_messages`: the document's messages a client sends (the test sends their examples).
    """
    for message, name, example in examples(document):
        if message in client_messages:
            continue
        real = received.get(message)
        assert real, f"{document.name}: example {name} of {message}, but Titan sent no {message}"
        if isinstance(example, dict) and example.get("type") == "event":  # a WebSocket event frame
            example, real = example["event"], [frame["event"] for frame in real]
        if isinstance(example, dict) and "specversion" in example:
            assert shape(example) in {shape(event) for event in real}, (
                f"{document.name}: example {name} has {sorted(example)}; Titan sends {sorted(real[0])}"
            )
            example = example.get("data")
            real = [event.get("data") for event in real]
        if example is not None:
            assert example["modelType"] in {payload["modelType"] for payload in real if payload}, (
                f"{document.name}: example {name} is a {example['modelType']}, unlike what Titan sends"
            )

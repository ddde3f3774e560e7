"""Walking JSON documents (OpenAPI, AsyncAPI, JSON Schema) that a plugin publishes or derives from."""

from __future__ import annotations

from typing import Any


def json_refs(node: Any) -> list[str]:
    """Every `$ref` string in `node` (dicts and lists of a parsed JSON or YAML document), in document
    order, repeats included; for checking that each one resolves, or collecting what a schema needs."""
    if isinstance(node, dict):
        own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return own + [ref for value in node.values() for ref in json_refs(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in json_refs(value)]
    return []

"""Derives the plugin's shipped descriptor schema from the IDTA schema files in tests/data.

`src/titan_plugin_registry/descriptor_schema.json` is this function's output; run this file to
write it again after the IDTA files change (test_registry_schema.py fails until then):

    .venv/bin/python plugins/titan_plugin_registry/tests/descriptor_schema_source.py
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

from titan_core.testing import json_refs

DATA = Path(__file__).with_name("data")
SHIPPED = Path(__file__).resolve().parents[1] / "src" / "titan_plugin_registry" / "descriptor_schema.json"
ROOTS = ("AssetAdministrationShellDescriptor", "SubmodelDescriptor")
_SWAGGERHUB = re.compile(
    r"^https://api\.swaggerhub\.com/domains/Plattform_i40/Part[12]-[A-Za-z]+-Schemas/[^#]*#"
)
# The IDTA pattern for "XML characters" spells characters above U+FFFF as UTF-16 surrogate pairs,
# which only a UTF-16 regex engine (JavaScript's) can match; JSON Schema validators in other
# languages refuse it. This class says the same about code points.
XML_CHARACTERS = "^[\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]*$"


def derive() -> dict[str, Any]:
    """The descriptor schemas and every definition they need, with local `$ref`s."""
    everything: dict[str, Any] = {}
    for name in ("Part1-MetaModel-Schemas", "Part2-API-Schemas"):
        document = yaml.safe_load((DATA / name / "openapi.yaml").read_text(encoding="utf-8"))
        everything.update(document["components"]["schemas"])
    wanted: dict[str, Any] = {}
    pending = list(ROOTS)
    while pending:
        name = pending.pop()
        if name in wanted:
            continue
        wanted[name] = local_refs(everything[name], as_definitions=True)
        pending.extend(ref.rpartition("/")[2] for ref in json_refs(wanted[name]))
    return {
        "$schema": "http://json-schema.org/draft-04/schema#",
        "$comment": (
            "Derived from the IDTA 'DotAAS Part 2 | API | Schemas' and 'Part 1 | Metamodel | Schemas' "
            "V3.1.2 (Copyright: Industrial Digital Twin Association (IDTA) 2025, CC BY 4.0): the "
            "descriptor schemas and what they refer to, references made local, the XML character "
            "pattern written for code points (see NOTICE.md)."
        ),
        "definitions": dict(sorted(wanted.items())),
    }


def local_refs(node: Any, *, as_definitions: bool = False) -> Any:
    """A copy of `node` with every swaggerhub `$ref` pointing inside one document: at
    `#/components/…` as in the IDTA files, or (`as_definitions`) at `#/definitions/<name>`, where
    the XML character pattern is also rewritten for code points."""
    if isinstance(node, dict):
        result = {key: local_refs(value, as_definitions=as_definitions) for key, value in node.items()}
        ref = result.get("$ref")
        if isinstance(ref, str):
            path = _SWAGGERHUB.sub("#", ref)
            result["$ref"] = "#/definitions/" + path.rpartition("/")[2] if as_definitions else path
        pattern = result.get("pattern")
        if as_definitions and isinstance(pattern, str) and "ud800" in pattern:
            result["pattern"] = XML_CHARACTERS
        return result
    if isinstance(node, list):
        return [local_refs(value, as_definitions=as_definitions) for value in node]
    return node


def rendered() -> str:
    return json.dumps(derive(), indent=1, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    SHIPPED.write_text(rendered(), encoding="utf-8")
    print(f"wrote {SHIPPED}")

"""Serve AAS JSON files with the Eclipse BaSyx Python SDK's HTTP server, the comparison point for Titan.

Runs in its own venv (bench/.venv-basyx, `basyx-python-sdk==1.2.1`), never in Titan's.
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import sys
from pathlib import Path
from typing import Any

from basyx.aas import model
from basyx.aas.adapter import aasx
from basyx.aas.adapter.http import WSGIApp
from basyx.aas.adapter.json import read_aas_json_file_into
from werkzeug.serving import run_simple


def drop_empty_strings(node: Any) -> tuple[Any, int]:
    """Remove attributes whose value is "" (the meta-model forbids empty strings; IDTA templates have a
    few, e.g. File.value). BaSyx's failsafe reader does not catch the ValueError they raise and aborts."""
    if isinstance(node, dict):
        kept: dict[str, Any] = {}
        dropped = 0
        for key, value in node.items():
            if value == "":
                dropped += 1
                continue
            kept[key], inner = drop_empty_strings(value)
            dropped += inner
        return kept, dropped
    if isinstance(node, list):
        items = [drop_empty_strings(item) for item in node]
        return [item for item, _ in items], sum(count for _, count in items)
    return node, 0


def load_object_store(files: list[Path]) -> model.DictObjectStore[model.Identifiable]:
    """Read every JSON environment file into one store; failsafe, because published IDTA files have
    small schema violations that the strict reader refuses (the skipped parts are logged)."""
    store: model.DictObjectStore[model.Identifiable] = model.DictObjectStore()
    for path in files:
        document, dropped = drop_empty_strings(json.loads(path.read_text(encoding="utf-8")))
        if dropped:
            print(f"basyx: {path.name}: dropped {dropped} empty-string attributes", flush=True)
        read_aas_json_file_into(
            store, io.StringIO(json.dumps(document)), replace_existing=True, failsafe=True
        )
    return store


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("files", nargs="+", type=Path, help="AAS JSON environment files to serve")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8082)
    parser.add_argument(
        "--base-path",
        default="",
        help="URL prefix of the API (BaSyx's default is /api/v3.0; Titan uses none)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    # Werkzeug logs one line per request; at benchmark rates that is the server's biggest cost.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    store = load_object_store(args.files)
    submodels = sum(1 for obj in store if isinstance(obj, model.Submodel))
    print(f"basyx: {len(store)} identifiables ({submodels} submodels) on {args.host}:{args.port}", flush=True)
    app = WSGIApp(store, aasx.DictSupplementaryFileContainer(), base_path=args.base_path)
    # threaded=True is how BaSyx's docs serve it; debugger and reloader are development aids and left off.
    run_simple(args.host, args.port, app, threaded=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Small synthetic submodels for the scale benchmark: 11 elements, about 2.4 KB of JSON each, valid V3.0,
written as AAS environment files in chunks that `titan load` reads."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

SEMANTIC_PREFIX = "urn:bench:"


def synthetic_submodel_id(number: int) -> str:
    return f"urn:titan-bench:submodel:{number:07d}"


def _reference(name: str) -> dict[str, Any]:
    return {
        "type": "ExternalReference",
        "keys": [{"type": "GlobalReference", "value": SEMANTIC_PREFIX + name}],
    }


def _property(id_short: str, value_type: str, value: str) -> dict[str, Any]:
    return {
        "modelType": "Property",
        "idShort": id_short,
        "semanticId": _reference(id_short),
        "valueType": value_type,
        "value": value,
    }


def synthetic_submodel(number: int) -> dict[str, Any]:
    """Submodel `number`: values vary with the number so no two documents are byte-identical."""
    return {
        "modelType": "Submodel",
        "id": synthetic_submodel_id(number),
        "idShort": f"Synthetic{number}",
        "kind": "Instance",
        "semanticId": _reference("SyntheticSubmodel/1/0"),
        "submodelElements": [
            _property("Temperature", "xs:double", f"{20 + number % 17 * 0.5}"),
            _property("Pressure", "xs:double", f"{1 + number % 5 * 0.25}"),
            _property("Status", "xs:string", "running" if number % 3 else "idle"),
            _property("OperatingHours", "xs:int", str(number % 100_000)),
            _property("Enabled", "xs:boolean", "true" if number % 2 else "false"),
            _property("SerialNumber", "xs:string", f"SN-{number:09d}"),
            {
                "modelType": "MultiLanguageProperty",
                "idShort": "Label",
                "semanticId": _reference("Label"),
                "value": [
                    {"language": "en", "text": f"Machine {number}"},
                    {"language": "de", "text": f"Maschine {number}"},
                ],
            },
            {
                "modelType": "Range",
                "idShort": "TemperatureLimits",
                "semanticId": _reference("TemperatureLimits"),
                "valueType": "xs:double",
                "min": "-20.0",
                "max": "80.0",
            },
            {
                "modelType": "SubmodelElementCollection",
                "idShort": "Location",
                "semanticId": _reference("Location"),
                "value": [
                    _property("Latitude", "xs:double", f"{48 + number % 1000 / 1000}"),
                    _property("Longitude", "xs:double", f"{9 + number % 1000 / 1000}"),
                ],
            },
        ],
    }


def write_environment_chunks(directory: Path, first: int, count: int, chunk_size: int) -> list[Path]:
    """Environment files holding submodels first .. first+count-1, at most `chunk_size` per file."""
    directory.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    for start in range(first, first + count, chunk_size):
        stop = min(start + chunk_size, first + count)
        path = directory / f"synthetic-{start:07d}-{stop - 1:07d}.json"
        environment = {"submodels": [synthetic_submodel(number) for number in range(start, stop)]}
        path.write_text(json.dumps(environment, separators=(",", ":")), encoding="utf-8")
        paths.append(path)
    return paths

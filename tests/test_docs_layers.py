"""docs/architecture.md's layer picture stays true to the import-linter contract `make lint` runs."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "architecture.md"


def _contract_layers() -> list[list[str]]:
    """The `core-layers` contract's layers, top first, each as its modules."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]
    (contract,) = [item for item in config["contracts"] if item.get("id") == "core-layers"]
    return [[name.strip() for name in re.split(r"[|:]", layer)] for layer in contract["layers"]]


def _picture() -> list[str]:
    """The rows of the layer picture (the code block under `## Layers`) that name code, top first."""
    section = DOC.read_text(encoding="utf-8").split("## Layers", 1)[1].split("\n## ", 1)[0]
    block = section.split("```", 2)[1]
    return [line for line in block.splitlines() if line.strip() and not line.strip().startswith("─")]


def _shown_as(module: str) -> str:
    """How the picture writes a module: `titan_core.store` as `store/`, `titan_core.auth` as `auth.py`."""
    name = module.removeprefix("titan_core.")
    return f"{name}/" if (ROOT / "titan_core" / name).is_dir() else f"{name}.py"


def test_the_picture_shows_every_layer_of_the_contract_in_its_order() -> None:
    rows = _picture()
    positions = []
    for layer in _contract_layers():
        for module in layer:
            shown = _shown_as(module)
            found = [
                index for index, row in enumerate(rows) if re.search(rf"(^|[\s,]){re.escape(shown)}", row)
            ]
            assert found, f"docs/architecture.md's layer picture does not show {shown} ({module})"
            positions.append((found[0], module))
    assert positions == sorted(positions), (
        f"the picture's order differs from the contract's (top first): {[module for _, module in positions]}"
    )


def test_every_layer_has_a_row_in_the_may_import_table() -> None:
    section = DOC.read_text(encoding="utf-8").split("## Layers", 1)[1].split("\n## ", 1)[0]
    table = {line.split("|")[1].strip() for line in section.splitlines() if line.startswith("| `")}
    packages = [module for layer in _contract_layers() for module in layer if module.count(".") == 1]
    missing = [
        _shown_as(module)
        for module in packages
        if (ROOT / "titan_core" / module.removeprefix("titan_core.")).is_dir()
        and f"`{_shown_as(module)}`" not in table
    ]
    assert not missing, f"layers without a row in docs/architecture.md's 'may import' table: {missing}"

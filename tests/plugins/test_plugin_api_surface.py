"""The declared plugin API holds: plugins (sources and tests) import only `titan_core.plugin_api`
(tests also `titan_core.testing`), the import-linter contract forbids every other core module, and
every public name resolves and is documented in docs/plugins.md."""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

import pytest

import titan_core.plugin_api as plugin_api

ROOT = Path(__file__).resolve().parents[2]
PLUGIN_TREES = [
    ROOT / "titan_plugin_ws",
    ROOT / "titan_plugin_mqtt",
    *(path for path in (ROOT / "plugins").iterdir() if (path / "pyproject.toml").is_file()),
    *(path for path in (ROOT / "examples").iterdir() if (path / "pyproject.toml").is_file()),
]
PUBLIC = {"titan_core.plugin_api"}
PUBLIC_IN_TESTS = {"titan_core.plugin_api", "titan_core.testing"}


def core_imports(source: Path) -> list[tuple[int, str]]:
    """(line, module) of every import of titan_core in one file."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source.read_text(), filename=str(source))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules = [node.module]
        elif isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        else:
            continue
        found.extend((node.lineno, module) for module in modules if module.split(".")[0] == "titan_core")
    return found


def test_plugins_and_their_tests_import_only_the_public_surface() -> None:
    offending = []
    for tree in PLUGIN_TREES:
        for source in sorted(tree.rglob("*.py")):
            allowed = PUBLIC_IN_TESTS if "tests" in source.relative_to(tree).parts else PUBLIC
            offending += [f"{source.relative_to(ROOT)}:{line} imports {module}"
                          for line, module in core_imports(source) if module not in allowed]  # fmt: skip

    assert offending == [], "plugins may import only titan_core.plugin_api (tests: and titan_core.testing)"
    assert len(PLUGIN_TREES) >= 4  # ws, mqtt, webhook, the example


def test_the_import_contract_forbids_every_internal_core_module() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    contract = next(item for item in config["contracts"] if item["id"] == "plugins-use-the-plugin-api")
    core = ROOT / "titan_core"
    internal = {
        f"titan_core.{path.stem}"
        for path in core.iterdir()
        if (path.suffix == ".py" and path.stem not in ("__init__", "__main__"))
        or (path.is_dir() and (path / "__init__.py").is_file())
    } - {"titan_core.plugin_api"}

    assert set(contract["forbidden_modules"]) == internal
    assert sorted(contract["source_modules"]) == sorted(config["root_packages"][1:])


@pytest.mark.parametrize("name", plugin_api.__all__)
def test_every_public_name_resolves_and_is_documented(name: str) -> None:
    docs = (ROOT / "docs" / "plugins.md").read_text()

    assert getattr(plugin_api, name) is not None
    assert re.search(rf"`{re.escape(name)}[`(]", docs), f"{name} is not documented in docs/plugins.md"

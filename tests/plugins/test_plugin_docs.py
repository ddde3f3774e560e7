"""Meta-tests holding the hook contract together: every hook in `titan_core/hookspecs.py` is
documented in docs/plugins.md under its own heading with its exact signature, and has a test
named `test_hook_<hook>`."""

from __future__ import annotations

import ast
import inspect
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from titan_core import hookspecs

ROOT = Path(__file__).resolve().parents[2]
PLUGINS_DOC = ROOT / "docs" / "plugins.md"


def hook_specs() -> dict[str, Callable[..., Any]]:
    # pluggy marks each spec with an attribute named after the project.
    return {
        name: function
        for name, function in inspect.getmembers(hookspecs, inspect.isfunction)
        if hasattr(function, f"{hookspecs.PROJECT_NAME}_spec")
    }


def signature_text(function: Callable[..., Any]) -> str:
    """`name(arg: Type, …) -> Return`, with the annotations exactly as written in hookspecs.py."""
    annotations = function.__annotations__  # strings: hookspecs.py uses `from __future__ import annotations`
    parameters = ", ".join(f"{name}: {annotations[name]}" for name in inspect.signature(function).parameters)
    return f"{function.__name__}({parameters}) -> {annotations['return']}"


def documented_sections() -> dict[str, str]:
    """The text under each `### heading` of docs/plugins.md, by heading."""
    sections: dict[str, str] = {}
    for match in re.finditer(r"^### (.+?)\n(.*?)(?=^#{1,3} |\Z)", PLUGINS_DOC.read_text(), re.M | re.S):
        sections[match.group(1).strip()] = match.group(2)
    return sections


def test_hookspecs_define_the_hooks_of_the_design() -> None:
    assert sorted(hook_specs()) == [
        "titan_authenticate",
        "titan_entity_kinds",
        "titan_event_sinks",
        "titan_health",
        "titan_metrics",
        "titan_migrations",
        "titan_services",
        "titan_setup_app",
        "titan_write_transaction",
    ]


@pytest.mark.parametrize("hook", sorted(hook_specs()))
def test_every_hook_is_documented_with_its_exact_signature(hook: str) -> None:
    sections = documented_sections()
    assert hook in sections, f"docs/plugins.md has no '### {hook}' heading"
    code_blocks = re.findall(r"```python\n(.*?)```", sections[hook], re.S)
    signature = signature_text(hook_specs()[hook])
    assert code_blocks and code_blocks[0].strip() == signature, (
        f"the first code block under '### {hook}' in docs/plugins.md must be exactly:\n{signature}"
    )


def test_every_documented_hook_exists() -> None:
    documented = {heading for heading in documented_sections() if heading.startswith("titan_")}
    assert documented <= set(hook_specs()), (
        f"docs/plugins.md documents hooks that do not exist: {documented - set(hook_specs())}"
    )


def functions_defined_under(directory: Path) -> set[str]:
    names: set[str] = set()
    for path in directory.rglob("test_*.py"):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                names.add(node.name)
    return names


@pytest.mark.parametrize("hook", sorted(hook_specs()))
def test_every_hook_has_a_test_named_for_it(hook: str) -> None:
    assert f"test_hook_{hook}" in functions_defined_under(Path(__file__).parent), (
        f"no test named test_hook_{hook} under tests/plugins/"
    )

"""Checks on the suite itself: every test can fail, and the lane markers are declared.

A test function counts as asserting when its body (nested functions included) has any of:

- an `assert` statement, or `raise AssertionError(...)`;
- `pytest.raises`, `pytest.warns` or `pytest.fail`;
- a call to a helper whose name says it asserts: it contains `assert` or `expect` (`assert_idta_error`,
  `_assert_all_refused`, `create_shell_and_expect_its_webhook`, Playwright's `expect(...)`), or starts
  with `check_` (`_check_submodel_filters`). A helper that raises AssertionError gets such a name;
- a comment `# no-assert: <why>` in the body, for a test whose assertion lives in a helper that cannot
  be named that way; the reason is mandatory.
"""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

import pytest
from support.data import MissingTestData, data_files
from support.lanes import LANES

TESTS = Path(__file__).resolve().parent
NO_ASSERT = re.compile(r"#\s*no-assert:\s*\S")

# Known gaps, each with its reason; this list only ever shrinks (it is empty now: keep it so).
PENDING: dict[str, str] = {}


def _called_name(call: ast.Call) -> str:
    function = call.func
    if isinstance(function, ast.Attribute):
        return function.attr
    return function.id if isinstance(function, ast.Name) else ""


def _asserts(function: ast.FunctionDef | ast.AsyncFunctionDef, source: list[str]) -> bool:
    body = source[function.lineno - 1 : function.end_lineno]
    if any(NO_ASSERT.search(line) for line in body):
        return True
    for node in ast.walk(function):
        if isinstance(node, ast.Assert):
            return True
        if isinstance(node, ast.Raise) and node.exc is not None and "AssertionError" in ast.unparse(node.exc):
            return True
        if isinstance(node, ast.Call):
            name = _called_name(node).lstrip("_")
            if name in {"raises", "warns", "fail"} or "assert" in name or "expect" in name:
                return True
            if name.startswith("check_"):
                return True
    return False


def find_tests_without_assertion() -> list[str]:
    """`path::name` of every test function in tests/ that asserts nothing (by the rules above)."""
    found = []
    for path in sorted(TESTS.rglob("test_*.py")):
        text = path.read_text(encoding="utf-8")
        source = text.splitlines()
        for node in ast.walk(ast.parse(text)):
            is_test = isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith(
                "test_"
            )
            if is_test and not _asserts(node, source):
                found.append(f"{path.relative_to(TESTS.parent)}::{node.name}")
    return found


def test_every_test_function_asserts_something() -> None:
    missing = [name for name in find_tests_without_assertion() if name not in PENDING]
    assert not missing, (
        "these tests assert nothing (no assert, pytest.raises/warns, assert_*/expect_* helper, or "
        "'# no-assert: <why>' comment; see this module's docstring):\n" + "\n".join(missing)
    )


def test_the_pending_list_holds_only_tests_that_still_need_it() -> None:
    assert set(PENDING) <= set(find_tests_without_assertion()), (
        "a pending test asserts now: drop it from PENDING"
    )


def test_the_scan_sees_a_test_without_assertion() -> None:
    tree = ast.parse("async def test_x(client):\n    await client.get('/')\n")
    (function,) = tree.body
    assert isinstance(function, ast.AsyncFunctionDef)
    assert not _asserts(function, ["async def test_x(client):", "    await client.get('/')"])


def test_lane_markers_are_declared_in_pyproject() -> None:
    pyproject = tomllib.loads((TESTS.parent / "pyproject.toml").read_text(encoding="utf-8"))
    declared = {line.split(":", 1)[0] for line in pyproject["tool"]["pytest"]["ini_options"]["markers"]}
    assert set(LANES) <= declared


def test_an_empty_data_set_fails_instead_of_giving_zero_cases(tmp_path: Path) -> None:
    with pytest.raises(MissingTestData, match="expected at least 1 files"):
        data_files(tmp_path)

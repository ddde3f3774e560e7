"""Checks on the suite itself: no test settles for a status code where a body or stored state exists.

A test is *status-only* when it has assertions and every one of them is shallow:

- a comparison that involves a status (`response.status == 204`, `status in (400, 404)`);
- `x is not None`;
- bare truthiness of a name, attribute or item (`assert body`, `assert response.ok`, `assert body["a"]`);
- an `and` of such parts.

Such a test passes when the server answers the right code and stores or sends nothing (or the
wrong thing). A test counts as deeper when it compares anything else, or uses `pytest.raises`/
`warns`/`fail` or an `assert_*`/`expect_*`/`check_*` helper (whose depth is the helper's business).

Where the status really is the point (a refusal, a limit, a route table's guard), the test says so
with a comment `# status-only: <why>` in its body; the reason is mandatory.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from tests.support.suite_source import each_test_function

TESTS = Path(__file__).resolve().parent
STATUS_ONLY_MARK = re.compile(r"#\s*status-only:\s*\S")
STATUS_NAMES = frozenset({"status", "status_code"})
DEEPER_HELPERS = frozenset({"raises", "warns", "fail"})


def _is_status(node: ast.expr) -> bool:
    if isinstance(node, ast.Attribute):
        return node.attr in STATUS_NAMES
    return isinstance(node, ast.Name) and node.id in STATUS_NAMES


def is_shallow(test: ast.expr) -> bool:
    """Whether an assertion's expression checks only a status, non-None-ness or truthiness."""
    if isinstance(test, ast.BoolOp) and isinstance(test.op, ast.And):
        return all(is_shallow(part) for part in test.values)
    if isinstance(test, ast.Name | ast.Attribute | ast.Subscript):
        return True
    if isinstance(test, ast.Compare):
        if any(_is_status(side) for side in (test.left, *test.comparators)):
            return True
        (operator, *more), (right, *_) = test.ops, test.comparators
        return (
            not more
            and isinstance(operator, ast.IsNot)
            and isinstance(right, ast.Constant)
            and right.value is None
        )
    return False


def _called_name(call: ast.Call) -> str:
    function = call.func
    if isinstance(function, ast.Attribute):
        return function.attr
    return function.id if isinstance(function, ast.Name) else ""


def _uses_a_deeper_check(function: ast.AST) -> bool:
    for node in ast.walk(function):
        if isinstance(node, ast.Call):
            name = _called_name(node).lstrip("_")
            if name in DEEPER_HELPERS or "assert" in name or "expect" in name or name.startswith("check_"):
                return True
    return False


def is_status_only(function: ast.FunctionDef | ast.AsyncFunctionDef, source: list[str]) -> bool:
    """Whether this test function's every assertion is shallow (and it carries no status-only mark)."""
    body = source[function.lineno - 1 : function.end_lineno]
    if any(STATUS_ONLY_MARK.search(line) for line in body):
        return False
    assertions = [node for node in ast.walk(function) if isinstance(node, ast.Assert)]
    if not assertions or _uses_a_deeper_check(function):
        return False
    return all(is_shallow(assertion.test) for assertion in assertions)


def find_status_only_tests(root: Path = TESTS) -> list[str]:
    """`path::name` of every status-only test function under `root` (see the module docstring)."""
    return [name for name, node, source in each_test_function(root) if is_status_only(node, source)]


def test_no_test_checks_only_a_status_where_a_body_or_stored_state_exists() -> None:
    found = find_status_only_tests()
    assert not found, (
        "these tests assert only status codes, 'is not None' or truthiness: read the body or the "
        "stored document back and compare it, or say why the status is the point with a "
        "'# status-only: <why>' comment (see tests/test_assertion_depth.py):\n" + "\n".join(found)
    )


def _parse(source: str) -> tuple[ast.AsyncFunctionDef, list[str]]:
    (function,) = ast.parse(source).body
    assert isinstance(function, ast.AsyncFunctionDef)
    return function, source.splitlines()


def test_the_scan_sees_a_write_checked_only_by_its_status() -> None:
    function, source = _parse(
        "async def test_x(client):\n"
        "    response = await client.put('/x', json={})\n"
        "    assert response.status == 204 and response.ok\n"
        "    assert response.headers['ETag'] is not None\n"
    )
    assert is_status_only(function, source)


def test_the_scan_takes_a_compared_body_or_a_reasoned_mark_as_deep_enough() -> None:
    compared, compared_source = _parse(
        "async def test_x(client):\n"
        "    response = await client.get('/x')\n"
        "    assert response.status == 200\n"
        "    assert await response.json() == {'a': 1}\n"
    )
    marked, marked_source = _parse(
        "async def test_x(client):\n"
        "    # status-only: the refusal is the point\n"
        "    assert (await client.get('/x')).status == 401\n"
    )
    unreasoned, unreasoned_source = _parse(
        "async def test_x(client):\n    # status-only:\n    assert (await client.get('/x')).status == 401\n"
    )
    assert not is_status_only(compared, compared_source)
    assert not is_status_only(marked, marked_source)
    assert is_status_only(unreasoned, unreasoned_source)

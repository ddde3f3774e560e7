"""Checks on the suite itself: every test can fail, helpers are imported as package modules, and the
lane markers are declared.

A test function counts as asserting when its body (nested functions included) has any of:

- an `assert` statement, or `raise AssertionError(...)`;
- `pytest.raises`, `pytest.warns` or `pytest.fail`;
- a call to a helper whose name says it asserts: it contains `assert` or `expect` (`assert_idta_error`,
  `_assert_all_refused`, `create_shell_and_expect_its_webhook`, Playwright's `expect(...)`), or starts
  with `check_` (`_check_submodel_filters`). A helper that raises AssertionError gets such a name;
- a comment `# no-assert: <why>` in the body, for a test whose assertion lives in a helper that cannot
  be named that way; the reason is mandatory.

Imports (docs/testing.md, "Helpers"): every folder of tests/ with Python files is a package of
`tests`, so helpers are imported as `tests.support.<module>` or relatively within an area, never by a
bare name that only works because pytest put the folder on `sys.path`. No module imports a conftest
(pytest loads those; shared code goes to a helpers module) or a `test_*` module.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.support.data import MissingTestData, data_files
from tests.support.lanes import LANES
from tests.support.parallel import shares_a_module_fixture
from tests.support.suite_source import each_test_function

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
    return [name for name, node, source in each_test_function(TESTS) if not _asserts(node, source)]


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


def _imported_modules(path: Path, tree: ast.Module) -> list[tuple[int, list[str]]]:
    """Per import statement of the module at `path`: its line and the dotted names it may load
    (`from a import b` may load `a.b`), relative imports resolved against the `tests` package."""
    package = path.relative_to(TESTS.parent).parent.parts
    found: list[tuple[int, list[str]]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, [alias.name]) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            parent = package[: len(package) - node.level + 1] if node.level else ()
            base = ".".join(part for part in (*parent, *(node.module or "").split(".")) if part)
            found.append((node.lineno, [base, *(f"{base}.{alias.name}" for alias in node.names)]))
    return found


def _import_problem(module: str, areas: set[str]) -> str | None:
    parts = module.split(".")
    ours = parts[0] == "tests" or len(parts) == 1  # a bare `conftest` or `test_x` only pytest's path finds
    if ours and parts[-1] == "conftest":
        return f"imports a conftest ({module}): move what it needs to a helpers module"
    if ours and parts[-1].startswith("test_"):
        return f"imports a test module ({module}): move what it needs to a helpers module"
    if parts[0] in areas:
        return f"imports {module} by a bare name: use tests.{module} or a relative import"
    return None


def import_problems(path: Path, text: str) -> list[str]:
    """What is wrong with the imports of the module at `path` (a file under tests/), one line each."""
    areas = {folder.name for folder in TESTS.iterdir() if folder.is_dir()} - {
        "data",
        "fixtures",
        "__pycache__",
    }
    problems = []
    for line, modules in _imported_modules(path, ast.parse(text)):
        found = [problem for module in modules if (problem := _import_problem(module, areas))]
        if found:
            problems.append(f"{path.relative_to(TESTS.parent)}:{line} {found[0]}")
    return problems


def test_helpers_are_imported_as_package_modules_never_conftests_or_test_modules() -> None:
    problems = []
    for path in sorted(TESTS.rglob("*.py")):
        problems += import_problems(path, path.read_text(encoding="utf-8"))
    assert not problems, "\n".join(problems)


def test_every_folder_with_python_files_is_a_package() -> None:
    """Without `__init__.py`, pytest would put the folder on `sys.path` and bare imports would work again."""
    folders = {path.parent for path in TESTS.rglob("*.py")}
    missing = sorted(
        str(folder.relative_to(TESTS.parent)) for folder in folders if not (folder / "__init__.py").is_file()
    )
    assert not missing, f"folders of tests/ without __init__.py: {missing}"


@pytest.mark.parametrize(
    ("source", "complaint"),
    [
        ("from conftest import WsServer", "imports a conftest (conftest)"),
        ("from .conftest import load_twins", "imports a conftest (tests.ws.conftest)"),
        ("from tests.ws import conftest", "imports a conftest (tests.ws.conftest)"),
        ("from .test_ws_auth import READER", "imports a test module (tests.ws.test_ws_auth)"),
        ("import tests.api.test_shells", "imports a test module (tests.api.test_shells)"),
        ("from support.app import AppClient", "imports support.app by a bare name"),
        ("from events.helpers import submodel", "imports events.helpers by a bare name"),
    ],
)
def test_the_import_scan_sees_each_kind_of_bad_import(source: str, complaint: str) -> None:
    (problem,) = import_problems(TESTS / "ws" / "test_example.py", source)
    assert complaint in problem


def test_the_import_scan_accepts_package_imports() -> None:
    source = "from tests.support.app import AppClient\nfrom .helpers import WsServer\nimport redis\n"
    assert import_problems(TESTS / "ws" / "test_example.py", source) == []


def test_lane_markers_are_declared_in_pyproject() -> None:
    pyproject = tomllib.loads((TESTS.parent / "pyproject.toml").read_text(encoding="utf-8"))
    declared = {line.split(":", 1)[0] for line in pyproject["tool"]["pytest"]["ini_options"]["markers"]}
    assert set(LANES) <= declared


def test_an_empty_data_set_fails_instead_of_giving_zero_cases(tmp_path: Path) -> None:
    with pytest.raises(MissingTestData, match="expected at least 1 files"):
        data_files(tmp_path)


@pytest.fixture(scope="module")
def module_resource() -> str:
    """Stands in for an expensive module-scoped fixture (wheels, a live server)."""
    return "built once per module"


def test_tests_sharing_a_module_fixture_stay_on_one_xdist_worker(
    module_resource: str, request: pytest.FixtureRequest
) -> None:
    assert shares_a_module_fixture(request.node)
    mark = request.node.get_closest_marker("xdist_group")
    assert mark is not None and mark.args == ("tests/test_suite_hygiene.py",)


def test_tests_without_one_may_go_to_any_worker(request: pytest.FixtureRequest) -> None:
    assert not shares_a_module_fixture(request.node)
    assert request.node.get_closest_marker("xdist_group") is None


def test_xdist_runs_a_group_on_one_worker(tmp_path: Path) -> None:
    """The marker alone is not enough: pytest 9.2 made `nodeid` ignore the `@group` suffix that
    pytest-xdist 3.8 appends, so `--dist loadgroup` spread every group over both workers and each
    worker built the module's wheels and venvs again (minutes of the suite). Runs a real `-n 2`."""
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "test_grouped.py").write_text(
        "import os\nimport pytest\n\n"
        "@pytest.mark.xdist_group('one')\n"
        "@pytest.mark.parametrize('n', range(6))\n"
        "def test_member(n):\n"
        "    with open('workers.txt', 'a') as out:\n"
        "        out.write(os.environ['PYTEST_XDIST_WORKER'] + '\\n')\n"
    )
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-n", "2", "--dist", "loadgroup", "-p", "no:cacheprovider", "-q",
         "--rootdir", str(tmp_path), "-c", str(tmp_path / "pytest.ini"), "test_grouped.py"],
        cwd=tmp_path, capture_output=True, text=True, timeout=240, check=False,
    )  # fmt: skip

    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    workers = (tmp_path / "workers.txt").read_text().split()
    assert len(workers) == 6 and len(set(workers)) == 1, f"the group ran on {sorted(set(workers))}"

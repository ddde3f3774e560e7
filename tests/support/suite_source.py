"""The suite read as source: every test function of the `test_*.py` files, for checks on the suite
itself (tests/test_suite_hygiene.py, tests/test_assertion_depth.py).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

FunctionNode = ast.FunctionDef | ast.AsyncFunctionDef


def each_test_function(root: Path) -> Iterator[tuple[str, FunctionNode, list[str]]]:
    """(`path::name`, the function's node, its file's lines) of every test function under `root`,
    files in sorted order; the path is relative to the folder above `root`."""
    for path in sorted(root.rglob("test_*.py")):
        text = path.read_text(encoding="utf-8")
        source = text.splitlines()
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, FunctionNode) and node.name.startswith("test_"):
                yield f"{path.relative_to(root.parent)}::{node.name}", node, source

"""Runs the IDTA tool `aas-test-engines` against a server and finds every problem in its result tree.

The tool's own summary leaves out operations whose setup failed, and a Python exception inside
the tool aborts the whole suite; both count as failures here. Docs: docs/conformance.md.
"""

from __future__ import annotations

import base64
import json
import re
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

TOOL_VERSION = "1.0.3"
PROFILE_PREFIX = "https://admin-shell.io/aas/API/3/0/"
SERVICE_FILTER = "*~GenerateSerializationByIds:GetDescription"
SUITE_TIMEOUT_SECONDS = 600.0

# Warnings that count as problems: the tool skipped a check (with the conformance fixture every
# check can run) or a soft check failed. The "Contains <profile>" warning of GetDescription is
# left to the test's own /description check.
WARNINGS_THAT_COUNT = (
    "No such element present",
    "No submodel element of type 'File' found",
    "Cannot check pagination",
    "contains conceptDescriptions: Fail",
)
# Skip warnings no server can avoid: 1.0.3's GetAllSubmodelElements-Reference suite has no setup,
# so its cursor stays None and the pagination check is always skipped.
UNAVOIDABLE_SKIPS = {("GetAllSubmodelElements-Reference", "Cannot check pagination")}


@dataclass(frozen=True)
class ToolDefect:
    """A check where the tool contradicts the specification it tests, excused only as described."""

    operation: str
    check: str
    message: re.Pattern[str]
    reason: str


# 1.0.3 reads every element `$value` with `extract_json`, which refuses anything but an object or an
# array. The OpenAPI (SubmodelElementValue -> PropertyValue: string, number or boolean) and Part 1
# "Format Value" ("Property is serialized as ${Property/value}") make a single Property's `$value` a
# bare JSON primitive, or null when it has no value. Only that refusal, for Properties, is excused.
TOOL_DEFECTS = (
    ToolDefect(
        operation="GetSubmodelElementByPath-ValueOnly",
        check="Checking Property",
        message=re.compile(r"Expected JSON, got <class '(int|float|str|bool|NoneType)'>"),
        reason="a Property's $value is a bare JSON primitive (OpenAPI PropertyValue)",
    ),
)


class Level(IntEnum):
    """The tool's result levels (`aas_test_engines.result.Level`)."""

    INFO = 0
    WARNING = 1
    ERROR = 2
    CRITICAL = 3


@dataclass(frozen=True)
class ResultNode:
    """One node of the tool's result tree (its `--output json` form: `m`, `l`, `s`)."""

    message: str
    level: Level
    children: tuple[ResultNode, ...] = ()

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ResultNode:
        """Parse one node; a test's message is its docstring, so whitespace is collapsed."""
        return cls(
            message=" ".join(str(data["m"]).split()),
            level=Level(int(data["l"])),
            children=tuple(cls.from_json(child) for child in data["s"]),
        )

    @property
    def failed(self) -> bool:
        return self.level >= Level.ERROR


@dataclass(frozen=True)
class Profile:
    """One profile the tool knows, and how to point the tool at a Titan server for it."""

    name: str
    remove_path_prefix: str = ""
    test_filter: str = ""

    @property
    def uri(self) -> str:
        return PROFILE_PREFIX + self.name


AAS_REPOSITORY = Profile("AssetAdministrationShellRepositoryServiceSpecification/SSP-002")
SUBMODEL_REPOSITORY = Profile("SubmodelRepositoryServiceSpecification/SSP-002")
AAS_SERVICE = Profile(
    "AssetAdministrationShellServiceSpecification/SSP-002",
    remove_path_prefix="/aas",
    test_filter=SERVICE_FILTER,
)
SUBMODEL_SERVICE = Profile(
    "SubmodelServiceSpecification/SSP-002", remove_path_prefix="/submodel", test_filter=SERVICE_FILTER
)
ALL_PROFILES = (AAS_REPOSITORY, SUBMODEL_REPOSITORY, AAS_SERVICE, SUBMODEL_SERVICE)


def base64url(identifier: str) -> str:
    """An identifier as it appears in a Part 2 path: base64url without padding."""
    return base64.urlsafe_b64encode(identifier.encode()).decode().rstrip("=")


def profile_base_url(profile: Profile, server_url: str, *, shell_id: str, submodel_id: str) -> str:
    """The URL the tool is given: the server itself, or the superpath of one shell or submodel."""
    if profile == AAS_SERVICE:
        return f"{server_url}/shells/{base64url(shell_id)}"
    if profile == SUBMODEL_SERVICE:
        return f"{server_url}/submodels/{base64url(submodel_id)}"
    return server_url


@dataclass(frozen=True)
class Problem:
    """A failed setup, a failed check, a skipped check, or a crash of the tool."""

    kind: str
    operation: str
    test: str
    details: tuple[str, ...] = ()

    def render(self) -> str:
        head = f"[{self.kind}] {self.operation}" + (f" / {self.test}" if self.test else "")
        return "\n".join([head, *("    " + line for line in self.details)])


@dataclass
class SuiteOutcome:
    """What one run of the tool for one profile found."""

    profile: Profile
    base_url: str
    problems: list[Problem] = field(default_factory=list)
    summary: list[str] = field(default_factory=list)
    excused: list[str] = field(default_factory=list)
    """The checks failed only by a `TOOL_DEFECTS` entry: "operation / test / check"."""

    @property
    def passed(self) -> bool:
        return not self.problems

    def render(self) -> str:
        title = f"{self.profile.uri} at {self.base_url}"
        excused = f"; {len(self.excused)} check(s) excused as tool defects" if self.excused else ""
        if self.passed:
            return f"PASS {title} ({'; '.join(self.summary)}{excused})"
        lines = [f"FAIL {title}: {len(self.problems)} problem(s) ({'; '.join(self.summary)})"]
        lines.extend(problem.render() for problem in self.problems)
        return "\n".join(lines)


def _context_lines(node: ResultNode, depth: int = 0) -> Iterator[str]:
    """The failing branch below `node`: its failing children plus the requests and responses beside them."""
    indent = "  " * depth
    for child in node.children:
        is_exchange = child.message.startswith(("Invoke ", "Response: "))
        if is_exchange and node.level >= Level.WARNING:
            yield indent + child.message
        elif child.level >= Level.WARNING:
            yield indent + f"{child.level.name}: {child.message}"
            yield from _context_lines(child, depth + 1)


def _is_unavoidable(node: ResultNode, operation: str) -> bool:
    return any(operation == op and node.message.startswith(text) for op, text in UNAVOIDABLE_SKIPS)


def _counted_warnings(node: ResultNode, operation: str) -> Iterator[ResultNode]:
    counts = node.level == Level.WARNING and node.message.startswith(WARNINGS_THAT_COUNT)
    if counts and not _is_unavoidable(node, operation):
        yield node
    for child in node.children:
        yield from _counted_warnings(child, operation)


def _is_tool_defect(node: ResultNode, operation: str) -> bool:
    """Whether `node` failed only by one of `TOOL_DEFECTS`: each failing child is its excused message."""
    return any(
        defect.operation == operation
        and node.message == defect.check
        and all(
            not child.children and defect.message.fullmatch(child.message)
            for child in node.children
            if child.failed
        )
        for defect in TOOL_DEFECTS
    )


def _fails(node: ResultNode, operation: str, excused: list[ResultNode]) -> bool:
    """Whether `node` failed for a reason other than a tool defect (those are collected in `excused`).

    A node's failure is that of its failing children; a node that failed with none failed on its own.
    """
    if not node.failed:
        return False
    if _is_tool_defect(node, operation):
        excused.append(node)
        return False
    failing = [child for child in node.children if child.failed]
    if not failing:
        return True
    return any([_fails(child, operation, excused) for child in failing])  # every child: collect all


def excused_checks(root: ResultNode) -> list[str]:
    """ "operation / test / check" of every check that failed only by a tool defect."""
    found = []
    for node in root.children:
        operation = node.message.removeprefix("Checking ")
        for phase in node.children:
            for test in phase.children:
                excused: list[ResultNode] = []
                _fails(test, operation, excused)
                found += [f"{operation} / {test.message} / {check.message}" for check in excused]
    return found


def problems_in(root: ResultNode) -> list[Problem]:
    """Every failed setup, failed check and skipped check in the tree of one suite run.

    Checks that failed only by one of `TOOL_DEFECTS` are no problems (`excused_checks` lists them).
    """
    problems: list[Problem] = []
    excused: list[ResultNode] = []
    for node in root.children:
        if node.message.startswith("Trying to reach") and node.failed:
            problems.append(Problem("unreachable", node.message, "", tuple(_context_lines(node))))
        if not node.message.startswith("Checking "):
            continue
        operation = node.message.removeprefix("Checking ")
        for phase in node.children:
            if phase.message == "Setup":
                if phase.failed:
                    problems.append(Problem("failed setup", operation, "Setup", tuple(_context_lines(phase))))
                continue
            for test in phase.children:
                if _fails(test, operation, excused):
                    problems.append(
                        Problem(
                            f"failed {phase.message.lower()}",
                            operation,
                            test.message,
                            tuple(_context_lines(test)),
                        )
                    )
                elif any(True for _ in _counted_warnings(test, operation)):
                    problems.append(Problem("warning", operation, test.message, tuple(_context_lines(test))))
        if _fails(node, operation, excused) and not any(
            problem.operation == operation for problem in problems
        ):
            problems.append(Problem("failed", operation, "", tuple(_context_lines(node))))
    if root.failed and not problems and not excused:
        problems.append(Problem("failed", root.message, "", tuple(_context_lines(root))))
    return problems


def summary_of(root: ResultNode) -> list[str]:
    """The tool's own summary lines ("Negative tests passed: a / b", ...)."""
    for node in root.children:
        if node.message == "Summary:":
            return [child.message for child in node.children]
    return []


def tool_command(profile: Profile, base_url: str) -> list[str]:
    """The `aas_test_engines check_server` command line for one profile."""
    command = [
        sys.executable,
        "-m",
        "aas_test_engines",
        "check_server",
        base_url,
        profile.uri,
        "--output",
        "json",
    ]
    if profile.remove_path_prefix:
        command += ["--remove-path-prefix", profile.remove_path_prefix]
    if profile.test_filter:
        command += ["--filter", profile.test_filter]
    return command


def run_suite(
    profile: Profile, base_url: str, *, timeout: float = SUITE_TIMEOUT_SECONDS, extra_args: Sequence[str] = ()
) -> SuiteOutcome:
    """Run the tool for `profile` against `base_url` in a subprocess and collect its problems.

    A subprocess, because the tool's HTTP client has no timeout and keeps global state; a hung
    server ends the run after `timeout` seconds instead of hanging the test session.
    """
    outcome = SuiteOutcome(profile, base_url)
    command = [*tool_command(profile, base_url), *extra_args]
    try:
        completed = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        outcome.problems.append(Problem("timeout", "whole suite", "", (f"no result after {timeout:.0f} s",)))
        return outcome
    try:
        root = ResultNode.from_json(json.loads(completed.stdout))
    except (json.JSONDecodeError, KeyError, ValueError):
        stderr_tail = completed.stderr.strip().splitlines()[-15:]
        outcome.problems.append(
            Problem("tool crashed", "whole suite", f"exit code {completed.returncode}", tuple(stderr_tail))
        )
        return outcome
    outcome.summary = summary_of(root)
    outcome.problems = problems_in(root)
    outcome.excused = excused_checks(root)
    # The tool exits 1 for the excused checks too; any other non-zero exit is a failure.
    if completed.returncode != 0 and not outcome.problems and not outcome.excused:
        outcome.problems.append(Problem("failed", "whole suite", f"exit code {completed.returncode}"))
    return outcome

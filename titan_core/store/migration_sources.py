"""A plugin's own Alembic history, migrated with the core's (the `titan_migrations` hook)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

_BRANCH = re.compile(r"[a-z][a-z0-9_]*")


@dataclass(frozen=True)
class MigrationSource:
    """An Alembic versions directory whose revisions form the branch labelled `branch`.

    The first revision has `down_revision = None` and `branch_labels = (branch,)`, and may
    `depends_on` a core revision (e.g. `"0007_semantic_keys_seq"`) whose tables it refers to.
    Name the plugin's tables after the plugin (`registry_shell_descriptors`).
    """

    branch: str
    versions: Path

    def __post_init__(self) -> None:
        problem = ""
        if not isinstance(self.versions, Path):
            problem = f"versions must be a pathlib.Path, not {type(self.versions).__name__}"
        if not (isinstance(self.branch, str) and _BRANCH.fullmatch(self.branch)):
            problem = (
                f"branch {self.branch!r}: use lower-case letters, digits and '_', starting with a "
                "letter (the plugin's name)"
            )
        if problem:
            raise ValueError(f"MigrationSource is not valid: {problem}")

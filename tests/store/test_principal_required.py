"""Every Repository operation names who it acts for: `principal` has no default.

The anonymous principal holds every role, so a default would turn a caller that forgot to pass
the principal into one with every right (least privilege when absent is a bug).
"""

from __future__ import annotations

import inspect
from pathlib import Path

from titan_core.store.database import Database
from titan_core.store.repository import Repository

# Reads of the attachments of identifiables the caller has already been allowed to read (export).
WITHOUT_PRINCIPAL = {"attachments_of", "owners_with_attachments"}


def test_every_repository_operation_requires_the_principal(tmp_path: Path) -> None:
    repository = Repository(Database(f"sqlite+aiosqlite:///{tmp_path}/titan.sqlite3"))
    operations = {
        name: member
        for name, member in vars(repository).items()
        if not name.startswith("_") and inspect.ismethod(member)
    }
    assert {"create", "put", "set_element_value", "save_package", "get"} <= operations.keys()
    without = sorted(name for name, member in operations.items()
                     if "principal" not in inspect.signature(member).parameters)  # fmt: skip
    assert without == sorted(WITHOUT_PRINCIPAL)
    defaulted = sorted(
        name
        for name, member in operations.items()
        if name not in WITHOUT_PRINCIPAL
        and inspect.signature(member).parameters["principal"].default is not inspect.Parameter.empty
    )
    assert not defaulted, f"Repository operations whose principal has a default: {defaulted}"

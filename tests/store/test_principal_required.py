"""Every Repository operation names who it acts for: `principal` has no default.

The anonymous principal holds every role, so a default would turn a caller that forgot to pass
the principal into one with every right (least privilege when absent is a bug).
"""

from __future__ import annotations

import inspect
import typing
from pathlib import Path
from typing import Any

from titan_core.store.database import Database
from titan_core.store.repository import Repository

# Reads of the attachments of identifiables the caller has already been allowed to read (export).
WITHOUT_PRINCIPAL = {"attachments_of", "owners_with_attachments"}


def principal_of(member: Any) -> tuple[bool, bool]:
    """(whether `member` takes `principal`, whether a caller must give it): a parameter of its own, or
    a key of the TypedDict its `**keywords: Unpack[...]` are (store/write_types.py, WriteOptions)."""
    parameters = inspect.signature(member).parameters
    if "principal" in parameters:
        return True, parameters["principal"].default is inspect.Parameter.empty
    for parameter in parameters.values():
        hint = typing.get_type_hints(member, include_extras=True).get(parameter.name)
        if parameter.kind is inspect.Parameter.VAR_KEYWORD and typing.get_origin(hint) is typing.Unpack:
            (keywords,) = typing.get_args(hint)
            if "principal" in keywords.__annotations__:
                return True, "principal" in keywords.__required_keys__
    return False, False


def test_every_repository_operation_requires_the_principal(tmp_path: Path) -> None:
    repository = Repository(Database(f"sqlite+aiosqlite:///{tmp_path}/titan.sqlite3"))
    operations = {
        name: member
        for name, member in vars(repository).items()
        if not name.startswith("_") and inspect.ismethod(member)
    }
    assert {"create", "put", "set_element_value", "save_package", "get"} <= operations.keys()
    without = sorted(name for name, member in operations.items() if not principal_of(member)[0])
    assert without == sorted(WITHOUT_PRINCIPAL)
    defaulted = sorted(
        name
        for name, member in operations.items()
        if name not in WITHOUT_PRINCIPAL and not principal_of(member)[1]
    )
    assert not defaulted, f"Repository operations whose principal has a default: {defaulted}"

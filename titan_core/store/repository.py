"""The Repository: the one way to read and change the AAS repository (REST, transports, `titan load`).

Every write method takes `origin`, `principal` and `if_match`, owns its transaction and records the
changes it made in that same transaction. Reads and whole-identifiable writes live in
`identifiable_store`, element writes in `element_writes`, shell writes in `shell_writes`, whole-environment imports
in `environment_import`, AASX packages in `packages`.
"""

from __future__ import annotations

from titan_core.store.element_writes import ElementWrites
from titan_core.store.environment_import import ImportCounts
from titan_core.store.packages import Packages
from titan_core.store.shell_writes import ShellWrites, references_submodel

__all__ = ["ImportCounts", "Repository", "references_submodel"]


class Repository(ElementWrites, ShellWrites, Packages):
    """Reads and writes of shells, submodels, their elements and concept descriptions."""

"""Installed-looking plugin distributions made on the fly: a module plus a `.dist-info` with an
entry point in group `titan`, in a directory put on `sys.path`, so discovery runs for real."""

from __future__ import annotations

import secrets
import sys
import textwrap
from pathlib import Path


class FakeDistributions:
    """Writes distributions into `site`, a directory the test put on `sys.path` (and `PYTHONPATH`)."""

    def __init__(self, site: Path) -> None:
        self.site = site
        self.modules: list[str] = []

    def add(self, entry_name: str, source: str, *, version: str = "1.0.0", distribution: str = "") -> str:
        """A distribution whose entry point `entry_name` names a new module with `source`.

        Returns the module's name: unique per call, so no test sees another's cached import.
        """
        module = f"titan_fake_{entry_name.replace('-', '_')}_{secrets.token_hex(4)}"
        distribution = distribution or f"titan-fake-{entry_name}"
        (self.site / f"{module}.py").write_text(textwrap.dedent(source), encoding="utf-8")
        dist_info = self.site / f"{distribution.replace('-', '_')}-{version}.dist-info"
        dist_info.mkdir()
        (dist_info / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: {distribution}\nVersion: {version}\n", encoding="utf-8"
        )
        (dist_info / "entry_points.txt").write_text(f"[titan]\n{entry_name} = {module}\n", encoding="utf-8")
        self.modules.append(module)
        return module

    def forget_imports(self) -> None:
        for module in self.modules:
            sys.modules.pop(module, None)

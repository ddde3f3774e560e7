"""A fresh venv with the core and one plugin installed from their directories, as a user installs
them: catches what the editable install of the test run hides (a missing package file, a wrong entry
point, a dependency only the development environment has)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Copied before installing, so pip's in-tree build leaves no build/ or egg-info in the repository.
_NOT_SOURCES = (
    ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", "tests", "bench", "plugins",
    "*.sqlite3*", "var", "test-artifacts", "node_modules",
)  # fmt: skip


def install_core_and_plugin(base: Path, plugin_dir: Path) -> Path:
    """`pip install <core> <plugin>` into a new venv under `base` (about 20 s with pip's cache warm);
    returns the venv. The core's copy leaves out the plugin folders at the repository's root."""
    core, plugin = base / "src" / "titan-aas", base / "src" / plugin_dir.name.replace("_", "-")
    shutil.copytree(ROOT, core, ignore=shutil.ignore_patterns(*_NOT_SOURCES, "titan_plugin_*"))
    shutil.copytree(plugin_dir, plugin, ignore=shutil.ignore_patterns(*_NOT_SOURCES))
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    install = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--no-input", "--progress-bar", "off",
         str(core), str(plugin)],
        capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    assert install.returncode == 0, f"pip install failed:\n{install.stdout[-3000:]}\n{install.stderr[-3000:]}"
    return venv

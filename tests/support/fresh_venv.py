"""Fresh venvs with the core and plugins installed from their directories or from wheels built here,
as a user installs them: catches what the editable install of the test run hides (a missing package file, a wrong entry
point, a dependency only the development environment has)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Copied before installing, so pip's in-tree build leaves no build/ or egg-info in the repository.
_NOT_SOURCES = (
    ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", "tests", "bench", "plugins",
    "*.sqlite3*", "var", "test-artifacts", "node_modules",
)  # fmt: skip


# The distributions of this repository: name -> source directory.
DISTRIBUTIONS = {
    "titan-aas": ROOT,
    "titan-aas-ws": ROOT / "titan_plugin_ws",
    "titan-aas-mqtt": ROOT / "titan_plugin_mqtt",
    "titan-aas-webhook": ROOT / "plugins" / "titan_plugin_webhook",
    "titan-aas-discovery": ROOT / "plugins" / "titan_plugin_discovery",
    "titan-aas-registry": ROOT / "plugins" / "titan_plugin_registry",
    "titan-aas-autoregister": ROOT / "plugins" / "titan_plugin_autoregister",
}


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


def fresh_venv_fixture(distribution: str) -> Any:
    """A module-scoped `fresh_venv` fixture of the plugin `distribution` (a key of DISTRIBUTIONS):
    a new venv with `pip install <core> <plugin>`, made once per test module. Assign it to the name
    `fresh_venv` in the module: `fresh_venv = fresh_venv_fixture("titan-aas-ws")`."""

    @pytest.fixture(scope="module", name="fresh_venv")
    def fixture(tmp_path_factory: pytest.TempPathFactory) -> Path:
        return install_core_and_plugin(
            tmp_path_factory.mktemp(f"{distribution}-venv"), DISTRIBUTIONS[distribution]
        )

    return fixture


def build_wheels(base: Path) -> dict[str, Path]:
    """`pip wheel --no-deps` of every distribution of the repository into `base/wheels`, from copies of
    the sources (pip builds in-tree); returns distribution name -> wheel file."""
    wheel_dir = base / "wheels"
    sources: list[str] = []
    for name, source in DISTRIBUTIONS.items():
        copy = base / "src" / name
        # The core's copy leaves out the plugin folders at the repository's root.
        plugin_folders = ("titan_plugin_*",) if source == ROOT else ()
        shutil.copytree(source, copy, ignore=shutil.ignore_patterns(*_NOT_SOURCES, *plugin_folders))
        sources.append(str(copy))
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-input", "--progress-bar", "off",
         "--wheel-dir", str(wheel_dir), *sources],
        capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    assert built.returncode == 0, f"pip wheel failed:\n{built.stdout[-3000:]}\n{built.stderr[-3000:]}"
    wheels = {}
    for name in DISTRIBUTIONS:
        (wheel,) = wheel_dir.glob(name.replace("-", "_") + "-*.whl")
        wheels[name] = wheel
    return wheels


def new_venv(base: Path) -> Path:
    """An empty venv at `base/venv` (pip only); returns it."""
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    return venv


def pip(venv: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """`<venv>/bin/python -m pip ARGS`, without a PYTHONPATH that would let the repository leak in."""
    environment = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    result = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "--no-input", *args],
        capture_output=True, text=True, timeout=900, check=False, env=environment,
    )  # fmt: skip
    if check:
        assert result.returncode == 0, (
            f"pip {' '.join(args)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        )
    return result


def plugins_in(venv: Path) -> dict[str, dict[str, object]]:
    """What `titan plugins --json` of the venv lists, by plugin name (the command must succeed)."""
    result = subprocess.run(
        [str(venv / "bin" / "titan"), "plugins", "--json"],
        capture_output=True, text=True, timeout=60, check=False, cwd=venv,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return {plugin["name"]: plugin for plugin in json.loads(result.stdout)}

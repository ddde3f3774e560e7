"""Where settings come from: the TOML file named by `TITAN_CONFIG`, and how messages name each source."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from titan_core.settings.errors import SettingsError


class Origin:
    """The words a message uses for where a value came from (a variable is named as it is)."""

    @staticmethod
    def file(path: str, table: str = "") -> str:
        place = path or "the TOML file"
        return f"in {place} [{table}]" if table else f"in {place}"

    @staticmethod
    def flag(name: str) -> str:
        return "--" + name.replace("_", "-")


def read_config_file(environ: Mapping[str, str]) -> tuple[str, dict[str, Any]]:
    """The path `TITAN_CONFIG` names ("" when unset) and the document in it."""
    config_path = environ.get("TITAN_CONFIG")
    if not config_path:
        return "", {}
    path = Path(config_path)
    try:
        return config_path, tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SettingsError(f"TITAN_CONFIG points to {path}, which does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"TITAN_CONFIG file {path} is not valid TOML: {exc}") from None


def core_table(document: Mapping[str, Any], path: str) -> tuple[dict[str, Any], dict[str, str]]:
    """The core's keys of the file (top level or `[core]`) and their origins; tables are plugin sections."""
    values = {key: value for key, value in document.items() if not isinstance(value, dict)}
    origins = dict.fromkeys(values, Origin.file(path))
    core = document.get("core") or {}
    twice = sorted(set(values) & set(core))
    if twice:
        raise SettingsError(
            f"setting {twice[0]!r} is set twice in {path}, at the top level and in [core]; keep one"
        )
    values.update(core)
    origins.update(dict.fromkeys(core, Origin.file(path, "core")))
    return values, origins

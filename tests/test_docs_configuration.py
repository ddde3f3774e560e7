"""docs/configuration.md stays true to the code: every setting is documented with its variable."""

from __future__ import annotations

import re
from pathlib import Path

from titan_plugin_ws.config import WsConfig

from titan_core.settings import MOVED
from titan_core.settings.core import setting_names
from titan_core.settings.sections import setting_names as section_names

DOC = Path(__file__).resolve().parents[1] / "docs" / "configuration.md"


def _documented_rows() -> dict[str, str]:
    """Setting name -> its table row, from the rows that start with `| `name` |`."""
    rows: dict[str, str] = {}
    for line in DOC.read_text(encoding="utf-8").splitlines():
        match = re.match(r"\|\s*`([a-z_]+)`\s*\|", line)
        if match:
            rows[match.group(1)] = line
    return rows


def test_every_core_setting_is_documented_with_its_environment_variable() -> None:
    rows = _documented_rows()
    fields = setting_names()
    missing = [name for name in fields if name not in rows]
    assert not missing, f"settings missing from docs/configuration.md: {missing}"
    without_variable = [name for name in fields if f"TITAN_{name.upper()}" not in rows[name]]
    assert not without_variable, f"rows that do not name their TITAN_* variable: {without_variable}"


def test_the_documented_core_settings_all_exist() -> None:
    fields = set(setting_names())
    core_rows = {name for name, row in _documented_rows().items() if "TITAN_" in row and "_" in name}
    plugin_prefixes = ("TITAN_MQTT_", "TITAN_WEBHOOK_", "TITAN_WS_")
    stale = sorted(
        name
        for name in core_rows - fields
        if not any(prefix in _documented_rows()[name] for prefix in plugin_prefixes)
    )
    assert not stale, f"docs/configuration.md documents settings that do not exist: {stale}"


def test_every_websocket_setting_is_documented_with_its_environment_variable() -> None:
    # Not _documented_rows(): `allowed_origins` is both a core and a [ws] setting, each with its row.
    rows = DOC.read_text(encoding="utf-8").splitlines()
    undocumented = [
        name
        for name in section_names(WsConfig)
        if not any(row.startswith(f"| `{name}` | `TITAN_WS_{name.upper()}`") for row in rows)
    ]
    assert not undocumented, f"[ws] settings missing from docs/configuration.md: {undocumented}"


def test_the_moved_settings_say_where_they_went() -> None:
    text = " ".join(DOC.read_text(encoding="utf-8").split())
    for old, (section, new) in MOVED.items():
        assert f"`{old}` → `[{section}] {new}`" in text

"""The compatibility policy: a plugin declares the plugin API range it needs and is refused at load,
with both versions named, when this Titan's API is outside it; deprecated names warn."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

import titan_core.plugin_api as plugin_api
from titan_core.plugin_api import API_VERSION, PluginApiDeprecationWarning, hookimpl
from titan_core.plugin_compat import Deprecation
from titan_core.plugins import TitanPluginManager


class Plugin:
    def __init__(self, requirement: object) -> None:
        self.TITAN_PLUGIN_API = requirement

    @hookimpl
    def titan_setup_app(self) -> None:
        return None


def test_the_api_version_is_major_dot_minor() -> None:
    major, minor = API_VERSION.split(".")

    assert (major.isdigit(), minor.isdigit()) == (True, True)


@pytest.mark.parametrize("requirement", [">=1.0,<2", "~=1.0", f"=={API_VERSION}"])
def test_a_plugin_whose_range_holds_this_api_loads(
    plugin_manager: TitanPluginManager, requirement: str
) -> None:
    record = plugin_manager.add_plugin(Plugin(requirement), "fits")

    assert (record.state, record.reason, record.hooks) == ("loaded", "", ("titan_setup_app",))


def test_a_plugin_for_another_api_is_refused_naming_both_versions(plugin_manager: TitanPluginManager) -> None:
    record = plugin_manager.add_plugin(Plugin(">=2.0,<3"), "future")

    assert record.state == "failed"
    assert record.reason == (
        f"needs plugin API >=2.0,<3 (TITAN_PLUGIN_API), but this Titan offers plugin API {API_VERSION}: "
        "install a version of the plugin made for it, or a Titan whose API is in that range"
    )
    assert plugin_manager.get_plugin("future") is None  # never registered: none of its hooks runs


@pytest.mark.parametrize(
    ("requirement", "message"),
    [
        (2, "TITAN_PLUGIN_API is 2; declare the plugin API versions it works with as a string"),
        ("one or two", "TITAN_PLUGIN_API 'one or two' is not a version range; write PEP 440 specifiers"),
    ],
)
def test_a_malformed_declaration_is_refused_saying_what_is_accepted(
    plugin_manager: TitanPluginManager, requirement: object, message: str
) -> None:
    record = plugin_manager.add_plugin(Plugin(requirement), "malformed")

    assert record.state == "failed"
    assert record.reason.startswith(message)


def test_a_plugin_that_declares_nothing_still_loads(plugin_manager: TitanPluginManager) -> None:
    record = plugin_manager.add_plugin(SimpleNamespace(), "silent")

    assert record.state == "loaded"


def test_a_deprecated_name_warns_with_its_replacement_and_still_works(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(
        plugin_api.DEPRECATED, "OldReader", Deprecation(plugin_api.EventReader, "1.1", "1.2", "EventReader")
    )

    with pytest.warns(PluginApiDeprecationWarning) as warned:
        value = plugin_api.OldReader  # type: ignore[attr-defined]

    assert value is plugin_api.EventReader
    assert str(warned[0].message) == (
        "titan_core.plugin_api.OldReader is deprecated since plugin API 1.1 and goes away in 1.2; use EventReader"
    )
    with pytest.raises(AttributeError, match="has no attribute 'NoSuchName'"):
        _ = plugin_api.NoSuchName  # type: ignore[attr-defined]

"""Finding plugins (entry points of group `titan`), choosing them (TITAN_PLUGINS,
TITAN_DISABLE_PLUGINS), failing them loudly, and listing them with `titan plugins`."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.support.app import AppClientFactory
from titan_core.plugins import PluginLoadError, PluginRecord, get_plugin_manager
from titan_core.settings import Settings, load_settings

from .fake_distributions import FakeDistributions

GREETER = """
    from aiohttp import web
    from titan_core import hookimpl

    async def greet(request):
        return web.json_response({"greeting": "hello from an installed plugin"})

    @hookimpl
    def titan_setup_app(app, settings):
        app.router.add_get("/greeter", greet)
"""

IDLE = """
    from titan_core import hookimpl

    @hookimpl
    def titan_event_sinks(app, settings):
        return []
"""


def records_by_name(records: list[PluginRecord]) -> dict[str, PluginRecord]:
    return {record.name: record for record in records}


async def test_installed_plugin_is_found_through_its_entry_point_and_wired_into_the_app(
    fake_distributions: FakeDistributions, make_app_client: AppClientFactory, settings: Settings
) -> None:
    fake_distributions.add("greeter", GREETER, version="1.2.3")

    greeter = records_by_name(get_plugin_manager(settings).records)["greeter"]
    client = await make_app_client()  # no manager given: the app builds its own from the settings

    assert (greeter.state, greeter.version, greeter.distribution) == ("loaded", "1.2.3", "titan-fake-greeter")
    assert greeter.hooks == ("titan_setup_app",)
    assert await (await client.get("/greeter")).json() == {"greeting": "hello from an installed plugin"}


def test_plugins_setting_is_an_allowlist(fake_distributions: FakeDistributions, settings: Settings) -> None:
    fake_distributions.add("alpha", IDLE)
    fake_distributions.add("beta", IDLE)

    records = records_by_name(get_plugin_manager(settings.replace(plugins=("alpha",))).records)

    assert records["alpha"].state == "loaded"
    assert (records["beta"].state, records["beta"].reason) == (
        "disabled",
        "not named in plugins (TITAN_PLUGINS)",
    )
    assert records["health"].state == "loaded"  # built-ins are not subject to the allowlist


def test_disable_plugins_setting_is_a_blocklist_that_wins_over_the_allowlist(
    fake_distributions: FakeDistributions, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    fake_distributions.add("alpha", IDLE, version="3.1.4")
    fake_distributions.add("beta", IDLE)

    chosen = settings.replace(plugins=("alpha", "beta"), disable_plugins=("alpha", "health", "gamma"))
    manager = get_plugin_manager(chosen)
    records = records_by_name(manager.records)

    assert (records["alpha"].state, records["alpha"].reason) == (
        "disabled", "named in disable_plugins (TITAN_DISABLE_PLUGINS)",
    )  # fmt: skip
    assert records["alpha"].version == "3.1.4"
    assert manager.get_plugin("alpha") is None
    assert records["beta"].state == "loaded"
    assert records["health"].state == "loaded"
    assert (
        "disable_plugins names 'health', which is built into the core and cannot be disabled" in caplog.text
    )
    assert "disable_plugins names 'gamma', which is not installed (typo?)" in caplog.text


def test_plugin_settings_come_from_the_environment_as_comma_separated_names() -> None:
    settings = load_settings(
        environ={
            "TITAN_PLUGINS": "webhook, mqtt",
            "TITAN_DISABLE_PLUGINS": "ws",
            "TITAN_REQUIRE_PLUGINS": "true",
        }
    )

    assert settings.plugins == ("webhook", "mqtt")
    assert settings.disable_plugins == ("ws",)
    assert settings.require_plugins is True
    assert load_settings(environ={}).plugins == ()


def test_allowlisted_plugin_that_is_not_installed_is_reported_as_failed(
    fake_distributions: FakeDistributions, settings: Settings
) -> None:
    fake_distributions.add("alpha", IDLE)

    missing = records_by_name(get_plugin_manager(settings.replace(plugins=("alpha", "nowhere"))).records)[
        "nowhere"
    ]

    assert missing.state == "failed"
    assert missing.reason.startswith(
        "named in plugins (TITAN_PLUGINS) but not installed: no entry point 'nowhere' in group 'titan'; installed: "
    )
    assert "alpha" in missing.reason


async def test_plugin_that_fails_to_import_is_named_and_the_server_starts_without_it(
    fake_distributions: FakeDistributions,
    make_app_client: AppClientFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    module = fake_distributions.add("broken", "import titan_no_such_dependency\n", version="0.9.0")
    fake_distributions.add("greeter", GREETER)

    client = await make_app_client()

    assert (await client.get("/greeter")).status == 200
    ready = await (await client.get("/ready")).json()
    broken = next(plugin for plugin in ready["plugins"] if plugin["name"] == "broken")
    expected = f"cannot import {module}: ModuleNotFoundError: No module named 'titan_no_such_dependency'"
    assert (broken["state"], broken["reason"], broken["version"]) == ("failed", expected, "0.9.0")
    assert f"plugin 'broken' failed and is not in use: {expected}" in caplog.text


def test_plugin_that_fails_to_import_stops_startup_when_plugins_are_required(
    fake_distributions: FakeDistributions, settings: Settings
) -> None:
    fake_distributions.add("broken", "raise RuntimeError('licence key missing')\n")

    with pytest.raises(PluginLoadError) as refused:
        get_plugin_manager(settings.replace(require_plugins=True))

    message = str(refused.value)
    assert "plugin 'broken' failed: cannot import" in message
    assert "RuntimeError: licence key missing" in message
    assert "TITAN_DISABLE_PLUGINS=broken" in message


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        (
            "from titan_core import hookimpl\n@hookimpl\ndef titan_setup_ap(app, settings): pass\n",
            "implements titan_setup_ap, which is not a Titan hook (the hooks are: titan_authenticate, "
            "titan_entity_kinds, titan_event_sinks, titan_health, titan_metrics, titan_migrations, "
            "titan_services, titan_setup_app, titan_write_transaction)",
        ),
        (
            "from titan_core import hookimpl\n@hookimpl\nasync def titan_setup_app(app, settings): pass\n",
            "implements titan_setup_app with `async def`; this hook must be synchronous",
        ),
        (
            "from titan_core import hookimpl\n@hookimpl(wrapper=True)\ndef titan_health(app):\n"
            "    return (yield)\n",
            "implements titan_health as a wrapper, which Titan does not support",
        ),
        (
            "from titan_core import hookimpl\n@hookimpl\ndef titan_health(app, database): pass\n",
            "does not fit the hook contract: ",
        ),
    ],
    ids=["unknown-hook", "async-wiring-hook", "wrapper", "unknown-argument"],
)
def test_plugin_that_breaks_the_hook_contract_is_refused_with_the_reason(
    fake_distributions: FakeDistributions, settings: Settings, source: str, reason: str
) -> None:
    fake_distributions.add("odd", source)

    manager = get_plugin_manager(settings)
    odd = records_by_name(manager.records)["odd"]

    assert odd.state == "failed"
    assert odd.reason.startswith(reason)
    assert manager.get_plugin("odd") is None


def test_two_distributions_with_the_same_plugin_name_load_only_the_first(
    fake_distributions: FakeDistributions, settings: Settings
) -> None:
    fake_distributions.add("twin", IDLE, distribution="titan-fake-twin-a")
    fake_distributions.add("twin", IDLE, distribution="titan-fake-twin-b")

    twins = [record for record in get_plugin_manager(settings).records if record.name == "twin"]

    assert sorted(record.state for record in twins) == ["failed", "loaded"]
    loser = next(record for record in twins if record.state == "failed")
    winner = next(record for record in twins if record.state == "loaded")
    assert loser.reason == f"the name 'twin' is already taken by {winner.distribution}"


def run_titan(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`titan ...` as a user runs it, with none of the developer's TITAN_* variables."""
    environment = {key: value for key, value in os.environ.items() if not key.startswith("TITAN_")}
    environment.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "titan_core", *args],
        capture_output=True, text=True, env=environment, timeout=60, check=False,
    )  # fmt: skip


@pytest.mark.slow  # starts `titan` as a process: not in `make test-fast`
def test_titan_plugins_lists_name_version_hooks_and_state(fake_distributions: FakeDistributions) -> None:
    fake_distributions.add("greeter", GREETER, version="1.2.3")
    fake_distributions.add("idle", IDLE, version="0.0.1")

    result = run_titan("plugins", env={"TITAN_DISABLE_PLUGINS": "idle"})

    assert result.returncode == 0, result.stderr
    lines = [line.split() for line in result.stdout.splitlines()]
    assert lines[0] == ["NAME", "VERSION", "HOOKS", "STATE"]
    rows = {line[0]: line[1:] for line in lines[1:]}
    assert rows["greeter"] == ["1.2.3", "titan_setup_app", "loaded"]
    assert rows["idle"] == [
        "0.0.1",
        "-",
        "disabled:",
        "named",
        "in",
        "disable_plugins",
        "(TITAN_DISABLE_PLUGINS)",
    ]
    assert rows["health"][1:] == ["titan_setup_app", "loaded"]


@pytest.mark.slow  # starts `titan` as a process: not in `make test-fast`
def test_titan_plugins_json_reports_failures_and_exits_1(fake_distributions: FakeDistributions) -> None:
    fake_distributions.add("greeter", GREETER, version="1.2.3")
    module = fake_distributions.add("broken", "import titan_no_such_dependency\n", version="0.9.0")

    result = run_titan("plugins", "--json")

    assert result.returncode == 1
    plugins = {plugin["name"]: plugin for plugin in json.loads(result.stdout)}
    assert plugins["greeter"] == {
        "name": "greeter", "version": "1.2.3", "distribution": "titan-fake-greeter", "builtin": False,
        "state": "loaded", "reason": "", "hooks": ["titan_setup_app"],
    }  # fmt: skip
    assert plugins["broken"]["state"] == "failed"
    assert plugins["broken"]["reason"].startswith(f"cannot import {module}: ModuleNotFoundError")
    assert "plugin 'broken' failed" in result.stderr  # the log goes to stderr, the JSON to stdout

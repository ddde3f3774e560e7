"""The core's settings: sources and their precedence, and messages naming what, what is accepted, where."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from titan_core.settings import SettingDeprecationWarning, SettingsError, load_settings


def config_file(tmp_path: Path, text: str) -> dict[str, str]:
    """An environment whose TITAN_CONFIG names a file holding `text`."""
    path = tmp_path / "titan.toml"
    path.write_text(text, encoding="utf-8")
    return {"TITAN_CONFIG": str(path)}


def refusal(tmp_path: Path | None = None, toml: str = "", **environ: str) -> str:
    env = {**(config_file(tmp_path, toml) if tmp_path else {}), **environ}
    with pytest.raises(SettingsError) as refused:
        load_settings(environ=env)
    return str(refused.value)


def test_a_flag_beats_the_environment_which_beats_the_file(tmp_path: Path) -> None:
    env = config_file(tmp_path, 'port = 9001\nhost = "0.0.0.0"\nbus_prefix = "file:"\n')
    env |= {"TITAN_PORT": "9002", "TITAN_HOST": "10.0.0.1"}

    settings = load_settings({"port": 9003, "host": None}, environ=env)

    assert (settings.port, settings.host, settings.bus_prefix) == (9003, "10.0.0.1", "file:")


def test_the_core_table_may_be_named(tmp_path: Path) -> None:
    settings = load_settings(environ=config_file(tmp_path, "[core]\nrelay_poll_ms = 50\n"))

    assert settings.relay_poll_ms == 50


def test_an_unknown_key_of_the_file_is_refused_naming_it_and_the_file(tmp_path: Path) -> None:
    message = refusal(tmp_path, "prot = 9000\n")

    assert message.startswith(f"unknown setting(s) prot (in {tmp_path / 'titan.toml'}); known: ")
    assert "port" in message and message.endswith("did you mean port?")


def test_an_unknown_key_of_the_core_table_is_refused_naming_the_table(tmp_path: Path) -> None:
    message = refusal(tmp_path, "[core]\nrelay_pol_ms = 50\n")

    assert f"unknown setting(s) relay_pol_ms (in {tmp_path / 'titan.toml'} [core])" in message


def test_a_key_both_at_the_top_and_in_the_core_table_is_refused(tmp_path: Path) -> None:
    message = refusal(tmp_path, "port = 1\n[core]\nport = 2\n")

    assert "setting 'port' is set twice" in message and "keep one" in message


# Variable -> a value of the wrong kind or out of range, and the start of the message it gets.
BAD_VALUES = {
    "TITAN_PORT": ("eighty", "setting 'port' must be a whole number from 1 to 65535, got 'eighty'"),
    "TITAN_RELAY_POLL_MS": ("2.5", "setting 'relay_poll_ms' must be a whole number, got '2.5'"),
    "TITAN_AUTH_ENABLED": ("maybe", "setting 'auth_enabled' must be true or false, got 'maybe'"),
    "TITAN_LOG_LEVEL": ("loud", "setting 'log_level' must be one of DEBUG, INFO, WARNING, ERROR, got 'loud'"),
    "TITAN_BUS": (
        "kafka://k",
        "setting 'bus' must be 'memory' or a Redis URL (redis://HOST:PORT/DB, rediss://…), got",
    ),
    "TITAN_API_PREFIX": (
        "api/",
        "setting 'api_prefix' must start with '/' and not end with '/' (or be empty), got",
    ),
    # Out of range:
    "TITAN_MAX_PAGE_LIMIT": ("70000.5", "setting 'max_page_limit' must be a whole number, got '70000.5'"),
    "TITAN_SINK_BATCH_SIZE": ("0", "setting 'sink_batch_size' must be at least 1, got '0'"),
    "TITAN_HSTS_MAX_AGE": ("-1", "setting 'hsts_max_age' must be at least 0, got '-1'"),
    "TITAN_IMPORT_MAX_PARTS": ("-5", "setting 'import_max_parts' must be at least 1, got '-5'"),
}


@pytest.mark.parametrize("variable", BAD_VALUES)
def test_a_bad_value_is_refused_saying_what_is_accepted_and_naming_the_variable(variable: str) -> None:
    value, message = BAD_VALUES[variable]

    refused = refusal(**{variable: value})

    assert refused.startswith(message) and refused.endswith(f"{value!r} ({variable})"), refused


def test_a_wrong_type_in_the_file_names_the_file(tmp_path: Path) -> None:
    message = refusal(tmp_path, 'port = "x"\nplugins = 3\nhost = ["a"]\n')

    where = f"(in {tmp_path / 'titan.toml'})"
    assert f"setting 'port' must be a whole number from 1 to 65535, got 'x' {where}" in message
    assert f"setting 'plugins' must be a list or a comma-separated string, got 3 {where}" in message
    assert f"setting 'host' must be text, got ['a'] {where}" in message


def test_a_flag_out_of_range_names_the_flag() -> None:
    with pytest.raises(SettingsError) as refused:
        load_settings({"port": 70000}, environ={})

    assert str(refused.value) == "setting 'port' must be a whole number from 1 to 65535, got 70000 (--port)"


def test_every_bad_value_is_reported_at_once_one_per_line() -> None:
    lines = refusal(TITAN_PORT="x", TITAN_RELAY_PAUSED="perhaps").splitlines()

    assert [line.split(" must ")[0] for line in lines] == ["setting 'port'", "setting 'relay_paused'"]


def test_a_secret_never_shows_in_a_message() -> None:
    message = refusal(tmp_path=None, TITAN_JWT_SECRET="", TITAN_PORT="x")
    assert "jwt_secret" not in message

    with pytest.raises(SettingsError) as refused:
        load_settings({"jwt_secret": True}, environ={})
    assert str(refused.value) == "setting 'jwt_secret' must be text, got (hidden) (--jwt-secret)"


def test_plugin_tables_are_left_to_their_plugins(tmp_path: Path) -> None:
    settings = load_settings(environ=config_file(tmp_path, '[mqtt]\nurl = "mqtt://b"\nqos = 7\n'))

    assert settings.section("mqtt") == {"url": "mqtt://b", "qos": 7}


@pytest.mark.parametrize(
    ("old", "new", "value"),
    [("ws_max_message_bytes", "max_message_bytes", 4096), ("ws_messages_per_second", "messages_per_second", 5),
     ("ws_message_burst", "message_burst", 7)],
)  # fmt: skip
def test_a_moved_websocket_key_still_works_with_a_warning_naming_the_new_key(
    tmp_path: Path, old: str, new: str, value: int
) -> None:
    env = config_file(tmp_path, f"{old} = {value}\n")

    with pytest.warns(SettingDeprecationWarning) as warned:
        settings = load_settings(environ=env)

    assert settings.section("ws") == {new: value}
    text = str(warned[0].message)
    assert f"[ws] table (TITAN_WS_{new.upper()})" in text and f"is now {new!r}" in text and "0.2" in text


def test_the_new_websocket_key_wins_over_the_moved_one(tmp_path: Path) -> None:
    env = config_file(tmp_path, "ws_message_burst = 7\n[ws]\nmessage_burst = 9\n")

    with pytest.warns(SettingDeprecationWarning):
        settings = load_settings(environ=env)

        overridden = load_settings(environ={**env, "TITAN_WS_MESSAGE_BURST": "11"})

    assert settings.section("ws") == {"message_burst": 9}
    assert overridden.section("ws") == {"message_burst": "11"}


def test_settings_without_moved_keys_warn_nothing(tmp_path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any warning fails the load
        settings = load_settings(environ=config_file(tmp_path, "[ws]\nmessage_burst = 9\n"))

    assert settings.section("ws") == {"message_burst": 9}

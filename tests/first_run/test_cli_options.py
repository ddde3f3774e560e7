"""The `titan` command as a newcomer meets it: a description per subcommand, `load --help` that says
what it reads and does, one line for every bad option, nothing created before the input is checked,
no migration chatter, "serving on" only once the server answers (issue 12, CLI)."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from collections.abc import Mapping
from pathlib import Path

import pytest

from tests.support.live_server import server_environment
from tests.support.services import LOOPBACK, free_port, kill_process, stop_process, wait_until

# each test starts `titan` as a process (1-2 s of CPU for its imports): not in `make test-fast`.
pytestmark = pytest.mark.slow

SUBCOMMANDS = ("serve", "load", "migrate", "plugins", "keys")


def titan(*args: str, cwd: Path, env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "titan_core", *args],
        capture_output=True, text=True, timeout=120, cwd=cwd, env=server_environment(env),
    )  # fmt: skip


def test_titan_help_gives_each_subcommand_a_description_line(tmp_path: Path) -> None:
    overview = titan("--help", cwd=tmp_path)

    assert overview.returncode == 0
    for name in SUBCOMMANDS:
        line = next(line for line in overview.stdout.splitlines() if line.strip().startswith(name + " "))
        assert len(line.split(maxsplit=1)[1]) > 20, line
        own = titan(name, "--help", cwd=tmp_path)
        description = own.stdout.split("\n\n")[1]
        assert own.returncode == 0 and description[0].isupper() and len(description) > 20, own.stdout


def test_load_help_names_the_formats_recursion_and_upsert(tmp_path: Path) -> None:
    text = " ".join(titan("load", "--help", cwd=tmp_path).stdout.split())

    for words in ("JSON", "XML", "AASX packages", "searched recursively", "upserts"):
        assert words in text


@pytest.mark.parametrize(
    ("args", "accepted"),
    [
        (("serve", "--log-level", "foo"), "use one of DEBUG, INFO, WARNING, ERROR"),
        (("serve", "--port", "abc"), "use a whole number from 1 to 65535"),
        (("serve", "--port", "70000"), "use a whole number from 1 to 65535"),
        (("serve", "--bogus"), "unrecognized arguments: --bogus"),
        (("load",), "the following arguments are required: FILE|DIR"),
        (("keys", "new", "--role", "boss"), "invalid choice: 'boss'"),
        (("launch",), "invalid choice: 'launch'"),
    ],
)
def test_a_bad_option_is_one_line_saying_what_is_accepted(
    tmp_path: Path, args: tuple[str, ...], accepted: str
) -> None:
    result = titan(*args, cwd=tmp_path)

    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and accepted in result.stderr, result.stderr
    assert "Traceback" not in result.stderr and "usage:" not in result.stderr


def test_a_bad_log_level_in_the_environment_is_one_line(tmp_path: Path) -> None:
    result = titan("migrate", cwd=tmp_path, env={"TITAN_LOG_LEVEL": "loud"})

    assert result.returncode == 2
    assert (
        result.stderr
        == "titan: setting 'log_level' must be one of DEBUG, INFO, WARNING, ERROR, got 'loud' (TITAN_LOG_LEVEL)\n"
    )
    assert list(tmp_path.iterdir()) == []


def test_a_bad_event_loop_in_the_environment_is_one_line(tmp_path: Path) -> None:
    result = titan("migrate", cwd=tmp_path, env={"TITAN_EVENT_LOOP": "fast"})

    assert result.returncode == 2
    assert result.stderr == (
        "titan: setting 'event_loop' must be one of auto, uvloop, asyncio, got 'fast' (TITAN_EVENT_LOOP)\n"
    )


def test_a_moved_setting_in_the_file_works_with_one_warning_line_naming_the_new_key(tmp_path: Path) -> None:
    (tmp_path / "titan.toml").write_text("ws_message_burst = 5\n", encoding="utf-8")

    result = titan("plugins", "--json", cwd=tmp_path, env={"TITAN_CONFIG": str(tmp_path / "titan.toml")})

    assert result.returncode == 0, result.stderr
    assert result.stderr == (
        f"titan: warning: setting 'ws_message_burst' (in {tmp_path / 'titan.toml'}) is now 'message_burst' "
        "in the [ws] table (TITAN_WS_MESSAGE_BURST); the old name stops working in Titan 0.2\n"
    )


def test_a_misspelt_key_in_the_file_stops_titan_naming_it_and_the_file(tmp_path: Path) -> None:
    (tmp_path / "titan.toml").write_text("prot = 9000\n", encoding="utf-8")

    result = titan("migrate", cwd=tmp_path, env={"TITAN_CONFIG": str(tmp_path / "titan.toml")})

    assert result.returncode == 2
    assert result.stderr.startswith(f"titan: unknown setting(s) prot (in {tmp_path / 'titan.toml'}); known: ")
    assert result.stderr.endswith("; did you mean port?\n")
    assert list(tmp_path.iterdir()) == [tmp_path / "titan.toml"]


def test_loading_a_missing_file_creates_no_database(tmp_path: Path) -> None:
    result = titan("load", str(tmp_path / "nonexistent.json"), cwd=tmp_path)

    assert result.returncode == 1
    assert f"{tmp_path / 'nonexistent.json'}: no such file" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_loading_an_invalid_file_creates_no_database(tmp_path: Path) -> None:
    broken = tmp_path / "input" / "broken.json"
    broken.parent.mkdir()
    broken.write_text(json.dumps({"submodels": [{"modelType": "Submodel", "id": "urn:x", "idShort": ""}]}))
    database = tmp_path / "db" / "titan.sqlite3"

    result = titan("load", "--database-url", f"sqlite+aiosqlite:///{database}", str(broken), cwd=tmp_path)

    assert result.returncode == 1 and "refused" in result.stderr
    assert not database.parent.exists()


def test_an_unusable_database_url_is_one_line(tmp_path: Path) -> None:
    result = titan("migrate", "--database-url", "mysql://localhost/titan", cwd=tmp_path)

    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "use sqlite+aiosqlite:///FILE or postgresql" in result.stderr


def test_migration_chatter_is_shown_only_at_debug(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/titan.sqlite3"

    quiet = titan("migrate", "--database-url", url, cwd=tmp_path)
    verbose = titan("migrate", "--database-url", url, cwd=tmp_path, env={"TITAN_LOG_LEVEL": "DEBUG"})

    assert quiet.returncode == 0 and verbose.returncode == 0
    assert "alembic" not in quiet.stderr and "database schema is current" in quiet.stderr
    assert "DEBUG alembic.runtime" in verbose.stderr and "INFO alembic" not in verbose.stderr


@pytest.mark.parametrize(("event_loop", "runs_on"), [(None, "uvloop"), ("asyncio", "asyncio")])
def test_serving_on_is_logged_once_the_server_answers(
    tmp_path: Path, event_loop: str | None, runs_on: str
) -> None:
    port = free_port()
    log_path = tmp_path / "serve.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "titan_core", "serve", "--host", LOOPBACK, "--port", str(port),
             "--database-url", f"sqlite+aiosqlite:///{tmp_path}/titan.sqlite3"],
            cwd=tmp_path, env=server_environment({"TITAN_EVENT_LOOP": event_loop} if event_loop else None),
            stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        wait_until(lambda: "serving on" in log_path.read_text(), timeout=60,
                   what="titan serve logging 'serving on'", interval=0.05,
                   diagnostics=log_path.read_text)  # fmt: skip
        # No retry: once the line is there, the port is bound and the app has started.
        with urllib.request.urlopen(f"http://{LOOPBACK}:{port}/ready", timeout=10) as response:
            assert response.status == 200
        stop_process(process)
    except BaseException:
        kill_process(process)
        raise
    lines = log_path.read_text().splitlines()
    serving = next(index for index, line in enumerate(lines) if "serving on" in line)
    assert "titan-aas" in lines[serving] and f"http://{LOOPBACK}:{port}" in lines[serving]
    # uvloop is a dependency on Linux, so "auto" (the default) serves on it.
    assert lines[serving].endswith(f", {runs_on})"), lines[serving]
    assert any("database schema is current" in line for line in lines[:serving])
    assert any("plugins in use" in line for line in lines[:serving])

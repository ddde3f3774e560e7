"""Real `titan serve` processes for end-to-end tests: start on a free port, wait until ready, stop.

The server runs as `python -m titan_core serve` with the test's interpreter, so it is exactly the
code under test. Its stdout and stderr go to one log file that failures print.
"""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Protocol

import titan_core
from tests.support.services import (
    LOOPBACK,
    ClosedOnExit,
    ServiceError,
    free_port,
    kill_process,
    log_tail,
    stop_process,
    wait_until,
)

READY_PATH = "/description"
_PORT_ATTEMPTS = 3


class LiveServer(ClosedOnExit):
    """One running `titan serve` process."""

    def __init__(self, process: subprocess.Popen[bytes], port: int, log_path: Path) -> None:
        self.process = process
        self.host = LOOPBACK
        self.port = port
        self.log_path = log_path

    @property
    def base_url(self) -> str:
        """`http://127.0.0.1:<port>`, without a trailing slash."""
        return f"http://{self.host}:{self.port}"

    def running(self) -> bool:
        return self.process.poll() is None

    def stop(self, grace: float = 10.0) -> None:
        """Graceful shutdown (SIGTERM, as a process manager would send), SIGKILL after `grace` s."""
        stop_process(self.process, grace=grace)

    def kill(self) -> None:
        """Crash the server (SIGKILL): no shutdown hooks run."""
        kill_process(self.process)

    def log(self) -> str:
        """Everything the server printed so far (stdout and stderr)."""
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, lines: int = 80) -> str:
        return log_tail(self.log_path, lines)

    def close(self) -> None:
        """The end of a `with` block: a graceful stop."""
        self.stop()


def server_environment(extra: Mapping[str, str] | None = None, *, isolated: bool = False) -> dict[str, str]:
    """The environment for a server process: ours without any `TITAN_*` variable, plus `extra`.

    A developer's TITAN_CONFIG or TITAN_DATABASE_URL must not change what a test starts.
    `isolated`: no PYTHONPATH at all, so a fresh venv runs only what is installed in it.
    """
    env = {key: value for key, value in os.environ.items() if not key.startswith("TITAN_")}
    env["PYTHONUNBUFFERED"] = "1"
    if isolated:
        env.pop("PYTHONPATH", None)
    else:
        # The child must import the very titan_core the tests import, even where it is not installed
        # (a venv without `pip install -e .`); with an editable install this changes nothing.
        source_root = str(Path(titan_core.__file__).resolve().parent.parent)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [source_root, env.get("PYTHONPATH")]))
    env.update(extra or {})
    return env


def launch_serve(
    argv: Sequence[str], port: int, *, log_path: Path, cwd: Path, env: Mapping[str, str]
) -> LiveServer:
    """Start a `titan serve` command line listening on `port`, its stdout and stderr appended to
    `log_path`; it is not ready yet (`wait_until_ready`)."""
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            list(argv), cwd=cwd, env=dict(env), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
        )
    return LiveServer(process, port, log_path)


def wait_until_ready(
    server: LiveServer,
    ready: Callable[[], bool],
    *,
    timeout: float,
    what: str,
    diagnostics: Callable[[], str] | None = None,
) -> LiveServer:
    """Poll `ready()` until it holds (a ServiceError with the log if the server exits first) and
    return the server; on any failure the server is killed. `diagnostics` default: the log's tail."""

    def running_and_ready() -> bool:
        if not server.running():
            raise ServiceError(
                f"titan serve exited with code {server.process.returncode}\n{server.log_tail()}"
            )
        return ready()

    try:
        wait_until(
            running_and_ready,
            timeout=timeout,
            what=what,
            interval=0.1,
            diagnostics=diagnostics or server.log_tail,
        )
    except BaseException:
        server.kill()
        raise
    return server


def _answers_ready(server: LiveServer) -> bool:
    if not server.running():
        raise ServiceError(
            f"titan serve exited with code {server.process.returncode} before answering "
            f"GET {READY_PATH}\n{server.log_tail()}"
        )
    try:
        with urllib.request.urlopen(server.base_url + READY_PATH, timeout=2) as response:
            return bool(response.status == 200)
    except urllib.error.HTTPError:
        return False


def start_live_server(
    database_url: str,
    *,
    log_dir: Path,
    env: Mapping[str, str] | None = None,
    args: Sequence[str] = (),
    port: int | None = None,
    timeout: float = 30.0,
) -> LiveServer:
    """Start `titan serve` on `database_url` and return it once `GET /description` answers 200.

    `args` are extra CLI flags, `env` extra environment variables (e.g. TITAN_BUS). The process
    runs in `log_dir`, so nothing it writes lands in the repository. A port taken in the race
    between choosing and binding it is retried with another port.
    """
    log_dir.mkdir(parents=True, exist_ok=True)
    for attempt in range(1, _PORT_ATTEMPTS + 1):
        chosen_port = port or free_port()
        log_path = log_dir / f"titan-serve-{chosen_port}.log"
        argv = [
            sys.executable, "-m", "titan_core", "serve",
            "--host", LOOPBACK, "--port", str(chosen_port), "--database-url", database_url,
            *args,
        ]  # fmt: skip
        server = launch_serve(argv, chosen_port, log_path=log_path, cwd=log_dir, env=server_environment(env))
        try:
            wait_until(
                lambda server=server: _answers_ready(server),  # type: ignore[misc]
                timeout=timeout,
                what=f"titan serve on port {chosen_port} answering GET {READY_PATH} with 200",
                interval=0.1,
                diagnostics=server.log_tail,
            )
        except ServiceError:
            server.kill()
            port_lost = "address already in use" in server.log().lower()
            if port_lost and port is None and attempt < _PORT_ATTEMPTS:
                continue
            raise
        return server
    raise AssertionError("unreachable: the last attempt either returns or raises")


class LiveServerFactory(Protocol):
    """The `start_live_server` fixture: `(database_url=None, *, env=None, args=(), port=None)`."""

    def __call__(
        self,
        database_url: str | None = None,
        /,
        *,
        env: Mapping[str, str] | None = None,
        args: Sequence[str] = (),
        port: int | None = None,
    ) -> LiveServer: ...

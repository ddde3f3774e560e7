"""The one base of the throwaway services (Mosquitto, Redis, PostgreSQL) that fault tests stop,
crash and restart: a free loopback port, a private directory with the service's log, a start that
waits with a deadline and names the log on failure, a stop, a crash, and cleanup.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from abc import abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import Self

from tests.support.services import ClosedOnExit, free_port, kill_process, log_tail, stop_process, wait_until


class ThrowawayService(ClosedOnExit):
    """A private service instance on `port` with its files (and `log_path`) under `base_dir`.

    Subclasses say how to start it and how to crash it; this class gives the context manager and
    cleanup (crash, then delete the files). `start()` after `stop()` or `kill()` restarts it on the
    same port.
    """

    name: str = "service"

    def __init__(self, port: int | None, *, log_name: str) -> None:
        self.port = port or free_port()
        self.base_dir = Path(tempfile.mkdtemp(prefix=f"titan-{self.name}-"))
        self.log_path = self.base_dir / log_name

    @abstractmethod
    def start(self) -> None:
        """Start the service (if it is not running) and return once it answers."""

    @abstractmethod
    def running(self) -> bool: ...

    @abstractmethod
    def kill(self) -> None:
        """Crash the service: no clean shutdown, clients see their connections drop."""

    def log_tail(self) -> str:
        return log_tail(self.log_path)

    def cleanup(self) -> None:
        try:
            self.kill()
        finally:
            shutil.rmtree(self.base_dir, ignore_errors=True)

    def close(self) -> None:
        """The end of a `with` block: `cleanup()`."""
        self.cleanup()

    def __enter__(self) -> Self:
        try:
            self.start()
        except BaseException:
            self.cleanup()
            raise
        return self


class ThrowawayProcess(ThrowawayService):
    """A service that is one child process: `argv()` starts it, `answers()` says it is ready."""

    start_timeout: float = 15.0

    def __init__(self, port: int | None, *, log_name: str) -> None:
        super().__init__(port, log_name=log_name)
        self._process: subprocess.Popen[bytes] | None = None

    @abstractmethod
    def argv(self) -> Sequence[str]: ...

    @abstractmethod
    def answers(self) -> bool:
        """Whether the service answers its own protocol (not only that its port is open)."""

    def start(self) -> None:
        if self.running():
            return
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                list(self.argv()), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
            )
        process = self._process
        wait_until(
            lambda: process.poll() is None and self.answers(),
            timeout=self.start_timeout,
            what=f"throwaway {self.name} on port {self.port} answering",
            diagnostics=lambda: f"exit code {process.poll()}\n{self.log_tail()}",
        )

    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def stop(self) -> None:
        """Shut the service down cleanly (SIGTERM) and wait for it."""
        if self._process is not None:
            stop_process(self._process)

    def kill(self) -> None:
        if self._process is not None:
            kill_process(self._process)

"""Small building blocks shared by the service helpers: free ports, bounded waits, child processes.

Everything here is synchronous on purpose: fixtures run outside the test's event loop, and a
plain blocking wait is the simplest thing that cannot leak tasks into it.
"""

from __future__ import annotations

import os
import shutil
import socket
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Self

# The kit's helpers, re-exported: the suite imports them from here.
from titan_core.testing.processes import kill_process as kill_process
from titan_core.testing.processes import stop_process as stop_process

LOOPBACK = "127.0.0.1"


class ServiceError(RuntimeError):
    """A service did not start, did not answer in time, or did not stop; the message says which."""


class ClosedOnExit(ABC):
    """A helper used as `with helper as x:` that is closed (stopped, deleted) when the block ends,
    whether it ended normally or by an exception. Subclasses say what closing means.
    """

    @abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def free_port(host: str = LOOPBACK) -> int:
    """A TCP port that nothing listens on right now (the kernel's pick; a tiny race remains)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def port_is_open(host: str, port: int, timeout: float = 0.5) -> bool:
    """Whether something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_until(
    check: Callable[[], bool],
    *,
    timeout: float,
    what: str,
    interval: float = 0.05,
    diagnostics: Callable[[], str] | None = None,
) -> None:
    """Call `check` until it returns True; raise ServiceError naming `what` after `timeout` seconds.

    `check` may raise OSError (a refused connection is the usual "not yet"). `diagnostics` adds
    context (a log tail, an exit code) to the error, because "timed out" alone helps nobody.
    """
    deadline = time.monotonic() + timeout
    last_error: BaseException | None = None
    while True:
        try:
            if check():
                return
        except OSError as exc:
            last_error = exc
        if time.monotonic() >= deadline:
            detail = f" (last error: {last_error})" if last_error else ""
            extra = f"\n{diagnostics()}" if diagnostics else ""
            raise ServiceError(f"{what} did not happen within {timeout:g} s{detail}{extra}")
        time.sleep(interval)


def is_root() -> bool:
    return os.geteuid() == 0


def as_user(user: str, argv: Sequence[str]) -> list[str]:
    """`argv` run as `user` when we are root (PostgreSQL refuses to run as root), unchanged otherwise."""
    if not is_root():
        return list(argv)
    runuser = shutil.which("runuser")
    if runuser is None:
        raise ServiceError("running as root but `runuser` is missing; it is needed to start PostgreSQL")
    return [runuser, "-u", user, "--", *argv]


def find_program(name: str, *, hint: str) -> str:
    """The full path of a program on PATH; ServiceError with an install hint when it is missing."""
    path = shutil.which(name)
    if path is None:
        raise ServiceError(f"`{name}` is not installed or not on PATH; {hint}")
    return path


def log_tail(path: Path, lines: int = 60) -> str:
    """The last `lines` lines of a log file, or a note that there is none."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return f"(no log at {path})"
    tail = text.splitlines()[-lines:]
    return f"--- last {len(tail)} lines of {path} ---\n" + "\n".join(tail)

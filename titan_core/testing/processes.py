"""Ending child processes a test (or a benchmark) started: one way to stop one, one way to crash one.

A `titan serve`, a broker or a database started with `subprocess.Popen` must be reaped whatever
happens, or the next test finds its port taken; these helpers always wait for the child.
"""

from __future__ import annotations

import contextlib
import signal
import subprocess
from typing import Any


def stop_process(
    process: subprocess.Popen[Any], *, grace: float = 10.0, stop_signal: int = signal.SIGTERM
) -> None:
    """Send `stop_signal` (SIGTERM; SIGINT where the child shuts down on Ctrl-C), then SIGKILL the
    child if it is still alive after `grace` seconds; always reap it."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        process.send_signal(stop_signal)
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        kill_process(process)


def kill_process(process: subprocess.Popen[Any]) -> None:
    """SIGKILL a child and reap it (a crash, as fault-injection tests need)."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        process.kill()
    process.wait(timeout=10)

"""Processes the benchmarks run: servers started and stopped by pid, readiness polling, and CPU accounting
(per process from /proc/<pid>/stat, for the whole machine from /proc/stat) to show who used the 2 cores."""

from __future__ import annotations

import dataclasses
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

from titan_core.testing.processes import stop_process

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process (all its threads) so far; 0.0 once it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    # Fields after the parenthesised command name; utime and stime are fields 14 and 15 of the line.
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def descendants(pid: int) -> list[int]:
    """The pids of a process's children, their children and so on (a server's workers)."""
    found: list[int] = []
    todo = [pid]
    while todo:
        current = todo.pop()
        for task in Path(f"/proc/{current}/task").glob("*"):
            try:
                children = [int(child) for child in (task / "children").read_text().split()]
            except OSError:
                continue
            found += children
            todo += children
    return found


def tree_cpu_seconds(pid: int) -> float:
    """CPU time of a process and its living descendants (`titan serve --workers N`: the parent
    and its workers). Compare two readings only while no worker was replaced in between."""
    return process_cpu_seconds(pid) + sum(process_cpu_seconds(child) for child in descendants(pid))


def process_rss_mb(pid: int) -> float:
    """Resident memory of a process in MiB (0.0 once it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def machine_busy_seconds() -> float:
    """CPU seconds spent on anything but idle and iowait, summed over all cores, since boot."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = values[:8]
    return (user + nice + system + irq + softirq + steal) / CLOCK_TICKS


def cpu_description() -> dict[str, object]:
    model = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    return {"cores": os.cpu_count(), "model": model, "loadavg": Path("/proc/loadavg").read_text().split()[:3]}


def wait_until_answering(url: str, timeout_s: float, process: subprocess.Popen[bytes] | None = None) -> None:
    """Poll `url` until it answers with any HTTP status below 500; fail early if `process` died."""
    deadline = time.monotonic() + timeout_s
    last_problem = "no attempt"
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"server exited with code {process.returncode} before answering {url}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status < 500:
                    return
        except urllib.error.HTTPError as exc:
            if exc.code < 500:
                return
            last_problem = f"HTTP {exc.code}"
        except OSError as exc:
            last_problem = str(exc)
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout_s:.0f} s ({last_problem})")


@dataclasses.dataclass
class ManagedServer:
    """A server subprocess owned by the benchmark, stopped by its own pid (SIGINT, then SIGKILL)."""

    name: str
    command: Sequence[str]
    ready_url: str
    log_path: Path
    env: dict[str, str] | None = None
    ready_timeout_s: float = 60.0
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> ManagedServer:
        log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            list(self.command), stdout=log, stderr=subprocess.STDOUT, env=self.env, start_new_session=True
        )
        log.close()
        try:
            wait_until_answering(self.ready_url, self.ready_timeout_s, self.process)
        except RuntimeError as exc:
            self.stop()
            tail = self.log_path.read_text(errors="replace")[-2000:]
            raise RuntimeError(
                f"{self.name} did not start: {exc}\n--- {self.log_path} (end) ---\n{tail}"
            ) from exc
        return self

    @property
    def pid(self) -> int:
        if self.process is None:
            raise RuntimeError(f"{self.name} is not running")
        return self.process.pid

    def cpu_seconds(self) -> float:
        """The server's CPU time so far, its worker processes included."""
        return tree_cpu_seconds(self.pid)

    def stop(self) -> None:
        if self.process is not None:
            # SIGINT: `titan serve` shuts down as on Ctrl-C, as an operator would stop it.
            stop_process(self.process, stop_signal=signal.SIGINT)

    def __enter__(self) -> ManagedServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def run_checked(command: Sequence[str], env: dict[str, str] | None = None, timeout_s: float = 1800) -> str:
    """Run a command to completion; its combined output, or an error that quotes the output's end."""
    completed = subprocess.run(
        list(command), env=env, capture_output=True, text=True, timeout=timeout_s, check=False
    )
    output = completed.stdout + completed.stderr
    if completed.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} exited with {completed.returncode}:\n{output[-3000:]}")
    return output

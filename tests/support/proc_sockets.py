"""Which process holds the server end of a TCP connection, read from Linux's /proc.

`titan serve --workers N` serves one port from N processes; the kernel picks the worker of each new
connection. Tests see which worker took a connection by matching the client's own port with the
remote port of the server sockets each worker process holds, as `ss -tnp` would: no change to what
Titan answers, and nothing a client could not see on the machine.
"""

from __future__ import annotations

import os
from pathlib import Path

_ESTABLISHED = "01"


def _socket_inodes(pid: int) -> set[str]:
    """The inodes of the sockets process `pid` holds (empty once it is gone)."""
    inodes: set[str] = set()
    try:
        entries = os.listdir(f"/proc/{pid}/fd")
    except (FileNotFoundError, ProcessLookupError):
        return inodes
    for entry in entries:
        try:
            target = os.readlink(f"/proc/{pid}/fd/{entry}")
        except OSError:
            continue  # closed meanwhile
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    return inodes


def _established(port: int) -> dict[str, int]:
    """Inode -> remote port of every established IPv4/IPv6 TCP connection whose local port is `port`."""
    found: dict[str, int] = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        path = Path(table)
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            fields = line.split()
            local, remote, state, inode = fields[1], fields[2], fields[3], fields[9]
            if state == _ESTABLISHED and int(local.rsplit(":", 1)[1], 16) == port:
                found[inode] = int(remote.rsplit(":", 1)[1], 16)
    return found


def connections_by_pid(pids: list[int], port: int) -> dict[int, set[int]]:
    """For each of `pids`: the client ports of the connections to `port` it serves now."""
    established = _established(port)
    return {
        pid: {established[inode] for inode in _socket_inodes(pid) if inode in established} for pid in pids
    }


def server_of(client_port: int, pids: list[int], port: int) -> int | None:
    """The one of `pids` serving the connection from local `client_port` to `port` (None: none of them)."""
    for pid, client_ports in connections_by_pid(pids, port).items():
        if client_port in client_ports:
            return pid
    return None


def process_gone(pid: int) -> bool:
    """Whether `pid` has exited (a zombie waiting for its parent counts as gone: its sockets are closed)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


def parent_of(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])

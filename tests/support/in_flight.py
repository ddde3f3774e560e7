"""A request a server is in the middle of serving, for tests of how a stop treats it."""

from __future__ import annotations

import signal
import socket
import subprocess
import time
from collections.abc import Callable


def hold_a_request(host: str, port: int, *, timeout: float = 30.0) -> socket.socket:
    """A connection on which a request is being served when this returns, and stays so.

    `GET /health` and then a `POST /shells` whose body never completes are sent together
    (pipelined). aiohttp starts a connection's requests one after the other, so once the answer to
    the first has arrived, the handler of the second has started, and it waits for the rest of its
    body: a request in flight, without a timer in the test. The caller closes the socket."""
    connection = socket.create_connection((host, port), timeout=timeout)
    try:
        connection.sendall(
            f"GET /health HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n"
            f"POST /shells HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
            'Content-Length: 1000\r\n\r\n{"id": '.encode()
        )
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = connection.recv(4096)
            if not chunk:
                raise AssertionError(
                    f"the server closed the connection before answering GET /health: {answer!r}"
                )
            answer += chunk
        assert answer.startswith(b"HTTP/1.1 200"), f"GET /health was not answered 200: {answer[:200]!r}"
    except BaseException:
        connection.close()
        raise
    return connection


def wait_until_closed_by_peer(connection: socket.socket, *, timeout: float) -> None:
    """Read until the server ends the connection (an orderly close or a reset); AssertionError if
    it has not within `timeout` seconds. Whatever else arrives (an answer) is discarded."""
    connection.settimeout(timeout)
    try:
        while connection.recv(4096):
            pass
    except ConnectionResetError:
        return
    except TimeoutError:
        raise AssertionError(f"the server kept the connection open for {timeout:g} s") from None


def stop_with_a_request_in_flight(
    process: subprocess.Popen[bytes], host: str, port: int, *, deadline: float, diagnostics: Callable[[], str]
) -> tuple[int, float]:
    """Hold a request on `host:port`, SIGTERM `process` and wait, `deadline` seconds at most, for it
    to exit and for the held connection to end. Returns the exit code and the seconds from the
    signal to the exit."""
    held = hold_a_request(host, port)
    try:
        began = time.monotonic()
        process.send_signal(signal.SIGTERM)
        try:
            code = process.wait(timeout=deadline)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"still running {deadline:g} s after SIGTERM\n{diagnostics()}") from None
        took = time.monotonic() - began
        wait_until_closed_by_peer(held, timeout=5)
    finally:
        held.close()
    return code, took

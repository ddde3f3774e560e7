"""Redis for tests: a tiny blocking client, per-test key prefixes, and throwaway servers.

The client speaks just enough RESP2 for fixtures (PING, SCAN, DEL, ...); the code under test uses
its own client. Tests that stop or crash Redis use `ThrowawayRedis`, never the shared server.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import socket
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote, urlsplit

from tests.support.services import (
    LOOPBACK,
    ClosedOnExit,
    ServiceError,
    find_program,
)
from tests.support.throwaway import ThrowawayProcess
from tests.support.workers import worker_id

DEFAULT_TEST_REDIS = "redis://127.0.0.1:6379/0"


def shared_redis_url() -> str:
    """The shared Redis: TITAN_TEST_REDIS, else the machine's default."""
    return os.environ.get("TITAN_TEST_REDIS") or DEFAULT_TEST_REDIS


class RedisReplyError(RuntimeError):
    """Redis answered a command with an error reply."""


class RedisClient(ClosedOnExit):
    """A blocking RESP2 connection: `command("SET", "k", "v")` returns the decoded reply."""

    def __init__(self, url: str, *, timeout: float = 5.0) -> None:
        parts = urlsplit(url)
        if parts.scheme not in {"redis", ""}:
            raise ValueError(f"expected a redis:// URL, got {url!r}")
        self._socket = socket.create_connection((parts.hostname or LOOPBACK, parts.port or 6379), timeout)
        self._reader = self._socket.makefile("rb")
        if parts.password:
            user = [unquote(parts.username)] if parts.username else []
            self.command("AUTH", *user, unquote(parts.password))
        database = parts.path.lstrip("/")
        if database and database != "0":
            self.command("SELECT", database)

    def command(self, *args: str | bytes | int) -> Any:
        encoded = [a if isinstance(a, bytes) else str(a).encode() for a in args]
        request = b"*%d\r\n" % len(encoded) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in encoded)
        self._socket.sendall(request)
        return self._read_reply()

    def _read_reply(self) -> Any:
        line = self._reader.readline()
        if not line:
            raise ConnectionError("Redis closed the connection")
        kind, body = line[:1], line[1:-2]
        if kind == b"+":
            return body.decode()
        if kind == b"-":
            raise RedisReplyError(body.decode())
        if kind == b":":
            return int(body)
        if kind == b"$":
            length = int(body)
            if length < 0:
                return None
            data = self._reader.read(length + 2)
            return data[:-2]
        if kind == b"*":
            count = int(body)
            return None if count < 0 else [self._read_reply() for _ in range(count)]
        raise ConnectionError(f"unexpected reply from Redis: {line!r}")

    def close(self) -> None:
        self._reader.close()
        self._socket.close()


def redis_answers(url: str) -> bool:
    """Whether a Redis at `url` answers PING."""
    try:
        with RedisClient(url, timeout=1.0) as client:
            return bool(client.command("PING") == "PONG")
    except (OSError, RedisReplyError):
        return False


def keys_with_prefix(client: RedisClient, prefix: str) -> list[bytes]:
    """Every key starting with `prefix` (SCAN, so a big shared database is not blocked)."""
    pattern = re.sub(r"([*?\[\]\\])", r"\\\1", prefix) + "*"
    keys: list[bytes] = []
    cursor = "0"
    while True:
        cursor_bytes, batch = client.command("SCAN", cursor, "MATCH", pattern, "COUNT", 1000)
        keys.extend(batch)
        cursor = cursor_bytes.decode()
        if cursor == "0":
            return keys


def delete_keys_with_prefix(url: str, prefix: str) -> int:
    """Delete every key starting with `prefix`; returns how many were deleted."""
    with RedisClient(url) as client:
        keys = keys_with_prefix(client, prefix)
        deleted = 0
        for start in range(0, len(keys), 500):
            deleted += int(client.command("DEL", *keys[start : start + 500]))
        return deleted


@contextlib.contextmanager
def redis_key_prefix(url: str) -> Iterator[str]:
    """A unique key prefix (`titan-test-<worker>-<hex>:`) for the block; its keys are deleted afterwards."""
    if not redis_answers(url):
        raise ServiceError(
            f"Redis at {url} does not answer PING. Run scripts/ensure-services.sh (make test does), "
            "or point TITAN_TEST_REDIS at a running Redis."
        )
    prefix = f"titan-test-{worker_id()}-{secrets.token_hex(6)}:"
    try:
        yield prefix
    finally:
        delete_keys_with_prefix(url, prefix)


class ThrowawayRedis(ThrowawayProcess):
    """A private, memory-only Redis on a free port, for tests that stop, crash or restart it.

    `stop()` is a clean shutdown, `kill()` a crash; `start()` again brings it back on the same port
    (empty, since nothing is persisted).
    """

    name = "redis"

    def __init__(self, port: int | None = None) -> None:
        super().__init__(port, log_name="redis.log")
        self.program = find_program("redis-server", hint="install the redis-server package")

    @property
    def url(self) -> str:
        return f"redis://{LOOPBACK}:{self.port}/0"

    def argv(self) -> list[str]:
        # Redis writes its log to stdout (the log file), which the base keeps for failure messages.
        return [
            self.program, "--port", str(self.port), "--bind", LOOPBACK, "--save", "",
            "--appendonly", "no", "--dir", str(self.base_dir), "--daemonize", "no",
        ]  # fmt: skip

    def answers(self) -> bool:
        return redis_answers(self.url)

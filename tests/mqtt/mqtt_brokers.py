"""Throwaway Mosquitto brokers with a configuration of the test's own: TLS with client certificates
and passwords, or persistence for the broker-crash test. Built on `support.mosquitto`."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.support.mosquitto import ThrowawayMosquitto
from tests.support.services import LOOPBACK, free_port

DOCS = Path(__file__).resolve().parents[2] / "docs"
MQTT_DOCS = DOCS / "mqtt.md"
SECURITY_DOCS = DOCS / "security.md"


def _run(*argv: str, cwd: Path) -> None:
    result = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, f"{' '.join(argv)} failed:\n{result.stdout}\n{result.stderr}"


def _readable(directory: Path) -> None:
    # Mosquitto started as root drops to its own user before it reads some files.
    directory.chmod(0o755)
    for path in directory.iterdir():
        path.chmod(0o644)


@dataclass(frozen=True)
class Certificates:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path

    def client_settings(self) -> dict[str, str]:
        """The MQTT plugin's settings for connecting with the client certificate of the test CA."""
        return {"tls_ca": str(self.ca), "tls_cert": str(self.client_cert), "tls_key": str(self.client_key)}


def make_certificates(directory: Path) -> Certificates:
    """A test CA, a server certificate for 127.0.0.1 and a client certificate, made with openssl."""
    assert shutil.which("openssl"), "the openssl command is needed for the TLS test (apt-get install openssl)"
    directory.mkdir(parents=True, exist_ok=True)
    _run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt",
         "-days", "2", "-subj", "/CN=titan-test-ca", cwd=directory)  # fmt: skip
    (directory / "server.ext").write_text(f"subjectAltName=IP:{LOOPBACK}\n")
    for name, extension in (("server", ["-extfile", "server.ext"]), ("client", [])):
        _run("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.csr",
             "-subj", f"/CN=titan-test-{name}", cwd=directory)  # fmt: skip
        _run("openssl", "x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
             "-CAcreateserial", "-out", f"{name}.crt", "-days", "2", *extension, cwd=directory)  # fmt: skip
    return Certificates(
        ca=directory / "ca.crt",
        server_cert=directory / "server.crt",
        server_key=directory / "server.key",
        client_cert=directory / "client.crt",
        client_key=directory / "client.key",
    )


@contextmanager
def configured_mosquitto(
    config: str, prepare: Callable[[Path], None] | None = None
) -> Iterator[ThrowawayMosquitto]:
    """A throwaway Mosquitto whose configuration is `config` (with `{port}`, `{host}` and `{dir}`
    filled in); `prepare` may write files into the broker's directory before it starts."""
    broker = ThrowawayMosquitto()
    try:
        if prepare is not None:
            prepare(broker.base_dir)
        broker.config_path.write_text(
            config.format(port=broker.port, dir=broker.base_dir, host=LOOPBACK)
            + "log_dest stderr\nlog_type error\nlog_type warning\nlog_type notice\n",
            encoding="utf-8",
        )
        _readable(broker.base_dir)
        broker.start()
        yield broker
    finally:
        broker.cleanup()


@contextmanager
def tls_mosquitto(
    certificates: Certificates, username: str, password: str
) -> Iterator[tuple[ThrowawayMosquitto, str]]:
    """Mosquitto with a TLS listener that requires a client certificate from the test CA and a
    password; yields the broker and the listener's mqtts:// URL. (The plain anonymous listener on
    the broker's own port is only there for the start-up probe.)"""
    passwords = certificates.ca.parent / "passwords"
    _run("mosquitto_passwd", "-b", "-c", str(passwords), username, password, cwd=certificates.ca.parent)
    _readable(certificates.ca.parent)
    tls_port = free_port()
    config = (
        # Stays root: the certificates live under pytest's private temporary directory.
        "user root\nper_listener_settings true\n"
        "listener {port} {host}\nallow_anonymous true\n"
        f"listener {tls_port} {LOOPBACK}\n"
        f"cafile {certificates.ca}\ncertfile {certificates.server_cert}\nkeyfile {certificates.server_key}\n"
        "require_certificate true\n"
        f"allow_anonymous false\npassword_file {passwords}\n"
    )
    with configured_mosquitto(config) as broker:
        yield broker, f"mqtts://{LOOPBACK}:{tls_port}"


@contextmanager
def durable_mosquitto() -> Iterator[ThrowawayMosquitto]:
    """Mosquitto that keeps persistent sessions across a crash (saved every second) and never holds
    messages back from an online subscriber (no in-flight limit): what the crash test needs so that
    a message the broker acknowledged is one its subscriber gets, even across a SIGKILL."""
    config = (
        "listener {port} {host}\nallow_anonymous true\n"
        "persistence true\npersistence_location {dir}/\nautosave_interval 1\n"
        "max_inflight_messages 0\nmax_queued_messages 0\nuser root\n"
    )
    with configured_mosquitto(config) as broker:
        yield broker


def _code_block_under(page: Path, heading: str) -> str:
    """The first code block after `heading` in the docs `page`."""
    sections = page.read_text(encoding="utf-8").split(heading, 1)
    match = re.search(r"```\n(.*?)```", sections[-1], re.DOTALL) if len(sections) == 2 else None
    assert match, f"docs/{page.name} has no code block under {heading}"
    return match.group(1)


def documented_acl() -> str:
    """The code block under the heading "### ACL file" of docs/mqtt.md."""
    return _code_block_under(MQTT_DOCS, "### ACL file")


def security_acl(b64_submodel_id: str) -> str:
    """The ACL pattern of docs/security.md ("### Mosquitto ACL"), its gateway `line1-gateway` given
    the submodel whose base64url id stands for `<b64url-submodel-id>` there."""
    return _code_block_under(SECURITY_DOCS, "### Mosquitto ACL").replace(
        "<b64url-submodel-id>", b64_submodel_id
    )


def password_of(user: str) -> str:
    return f"{user}-pw"


@contextmanager
def acl_mosquitto(users: Sequence[str], acl: str | None = None) -> Iterator[str]:
    """A throwaway Mosquitto enforcing `acl` (default: the documented one) on a listener that wants a
    password (`password_of(user)` for each of `users`); yields that listener's mqtt:// URL. The
    anonymous listener on the broker's own port is only for the start-up probe."""
    secured_port = free_port()

    def prepare(directory: Path) -> None:
        for index, user in enumerate(users):
            flag = ["-c"] if index == 0 else []
            subprocess.run(["mosquitto_passwd", "-b", *flag, str(directory / "passwords"), user, password_of(user)],
                           check=True, capture_output=True)  # fmt: skip
        (directory / "acl").write_text(documented_acl() if acl is None else acl, encoding="utf-8")

    config = (
        "user root\nper_listener_settings true\nlistener {port} {host}\nallow_anonymous true\n"
        f"listener {secured_port} {LOOPBACK}\nallow_anonymous false\n"
        "password_file {dir}/passwords\nacl_file {dir}/acl\n"
    )
    with configured_mosquitto(config, prepare):
        yield f"mqtt://{LOOPBACK}:{secured_port}"

"""`titan serve` refuses a network address with authentication off (unless told), docs/security.md
lists every security setting, and its Mosquitto ACL pattern matches the topics Titan uses."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from titan_plugin_mqtt.topics import event_topic

from tests.support.live_server import server_environment
from tests.support.services import free_port
from titan_core.cli import bind_refusal, is_loopback
from titan_core.model.identifiers import encode_identifier
from titan_core.settings import Settings, load_settings

DOCS = Path(__file__).resolve().parents[2] / "docs" / "security.md"
SECURITY_SETTINGS = (
    "auth_enabled", "insecure_no_auth", "auth_anonymous_roles", "api_keys", "jwt_secret", "jwt_public_key_file",
    "jwt_jwks_url", "jwt_jwks_cache_seconds", "jwt_algorithms", "jwt_issuer", "jwt_audience", "jwt_leeway_seconds",
    "jwt_subject_claim", "jwt_roles_claim", "jwt_scopes_claim", "max_body_bytes", "max_json_depth", "max_path_depth",
    "max_page_limit", "body_timeout", "keepalive_timeout", "cors_allowed_origins",
    "cors_allowed_methods", "cors_allowed_headers", "cors_exposed_headers", "cors_allow_credentials", "cors_max_age",
    "security_headers", "hsts_max_age",
)  # fmt: skip


@pytest.mark.parametrize("host", ["127.0.0.1", "127.3.4.5", "::1", "[::1]", "localhost"])
def test_loopback_addresses_may_serve_without_authentication(host: str) -> None:
    assert is_loopback(host)
    assert bind_refusal(Settings(host=host)) == ""


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "", "192.168.1.20", "titan.example"])
def test_other_addresses_need_authentication_or_an_explicit_insecure_flag(host: str) -> None:
    assert "refusing to serve" in bind_refusal(Settings(host=host))
    assert bind_refusal(Settings(host=host, auth_enabled=True)) == ""
    assert bind_refusal(Settings(host=host, insecure_no_auth=True)) == ""


def test_the_insecure_flag_comes_from_the_command_line_or_the_environment() -> None:
    assert load_settings({"insecure_no_auth": True}, environ={}).insecure_no_auth
    assert load_settings(environ={"TITAN_INSECURE_NO_AUTH": "true"}).insecure_no_auth
    assert not load_settings(environ={}).insecure_no_auth


def run_titan(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "titan_core", *args], capture_output=True, text=True,
                          env=server_environment(env), timeout=60)  # fmt: skip


@pytest.mark.slow  # starts `titan` as a process: not in `make test-fast`
def test_titan_serve_on_all_interfaces_without_authentication_refuses_and_says_why(tmp_path: Path) -> None:
    result = run_titan("serve", "--host", "0.0.0.0", "--port", str(free_port()),
                       "--database-url", f"sqlite+aiosqlite:///{tmp_path}/t.sqlite3")  # fmt: skip

    assert result.returncode == 2
    assert "refusing to serve on 0.0.0.0 with authentication off" in result.stderr
    assert "--insecure-no-auth" in result.stderr


@pytest.mark.slow  # starts `titan` as a process: not in `make test-fast`
def test_titan_serve_refuses_unusable_credential_settings(tmp_path: Path) -> None:
    result = run_titan("serve", "--port", str(free_port()), "--database-url", f"sqlite+aiosqlite:///{tmp_path}/t.sqlite3",
                       env={"TITAN_AUTH_ENABLED": "true", "TITAN_JWT_SECRET": "short", "TITAN_JWT_ISSUER": "i",
                            "TITAN_JWT_AUDIENCE": "a"})  # fmt: skip

    assert result.returncode == 2
    assert "jwt_secret" in result.stderr and "Traceback" not in result.stderr


def test_docs_list_every_security_setting_with_its_environment_variable() -> None:
    text = DOCS.read_text(encoding="utf-8")
    fields = set(Settings.__dataclass_fields__)

    for name in SECURITY_SETTINGS:
        assert name in fields, name
        assert re.search(rf"\| `{name}`[^|]*\| `TITAN_{name.upper()}`", text), (
            f"{name} is not in the settings table"
        )


def acl_patterns(user: str) -> dict[str, list[str]]:
    """The `topic read|write|readwrite` patterns of one user of the docs' ACL example."""
    text = DOCS.read_text(encoding="utf-8")
    block = text[text.index("### Mosquitto ACL") :]
    block = block[block.index(f"user {user}\n") :]
    block = block[: block.find("\n\n")] if "\n\n" in block else block
    patterns: dict[str, list[str]] = {"read": [], "write": []}
    for access, pattern in re.findall(r"^topic (read|write|readwrite) +(\S+)$", block, re.MULTILINE):
        for kind in ("read", "write"):
            if kind in access:
                patterns[kind].append(pattern)
    return patterns


def matches(pattern: str, topic: str) -> bool:
    """MQTT topic matching: `+` is one level, a final `#` any number."""
    wanted, levels = pattern.split("/"), topic.split("/")
    for index, part in enumerate(wanted):
        if part == "#":
            return True
        if index >= len(levels) or (part != "+" and part != levels[index]):
            return False
    return len(wanted) == len(levels)


def test_the_documented_acl_pattern_matches_the_topics_titan_uses() -> None:
    submodel_id, other_id = "https://plant.example/line1/sm/press", "https://plant.example/line2/sm/press"
    element = {"titanentity": "element", "titanid": submodel_id, "titanpath": "Axis[2].Speed"}
    events = [event_topic("titan", element), event_topic("titan", {"titanentity": "shell", "titanid": "urn:s"}),
              event_topic("titan", {"titanentity": "concept_description", "titanid": "urn:cd"})]  # fmt: skip
    value = f"titan/element/{encode_identifier(submodel_id)}/Axis[2].Speed/value"
    other_value = f"titan/element/{encode_identifier(other_id)}/Speed/value"

    def gateway(patterns: list[str]) -> list[str]:
        return [p.replace("<b64url-submodel-id>", encode_identifier(submodel_id)) for p in patterns]

    titan, line1, dashboard = acl_patterns("titan"), acl_patterns("line1-gateway"), acl_patterns("dashboard")
    assert all(any(matches(p, topic) for p in titan["write"]) for topic in events)
    assert any(matches(p, value) for p in titan["read"])
    assert any(matches(p, value) for p in gateway(line1["write"]))
    assert not any(matches(p, other_value) for p in gateway(line1["write"]))
    assert any(matches(p, value + "/error") for p in gateway(line1["read"]))
    assert any(matches(p, events[0]) for p in gateway(line1["read"]))
    assert all(any(matches(p, topic) for p in dashboard["read"]) for topic in events)
    assert not dashboard["write"]

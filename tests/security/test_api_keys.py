"""Static API keys: only their SHA-256 digests are configured, `titan keys` makes keys and entries,
and a request presents a key as `X-API-Key`, `Authorization: ApiKey …` or `Authorization: Bearer …`."""

from __future__ import annotations

import io
import re

import pytest

from tests.support.app import AppClient
from titan_core.auth import ROLE_WRITER
from titan_core.cli import main
from titan_core.credentials.api_keys import ApiKeyTable, hash_api_key, new_api_key, parse_api_key
from titan_core.settings import SettingsError, load_settings

from .twins import KEYS, SHELL_ID, b64

KEY = "titan_" + "k" * 43


def test_an_entry_holds_the_digest_subject_roles_and_scopes() -> None:
    key = parse_api_key(
        f"{hash_api_key(KEY)};subject=line1-gateway;role=writer;scope=https://a/*;scope=https://b/*"
    )

    assert key.digest == hash_api_key(KEY)
    assert key.principal.subject == "line1-gateway"
    assert key.principal.roles == frozenset({ROLE_WRITER})
    assert key.principal.scopes == ("https://a/*", "https://b/*")


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (f"{KEY};subject=x;role=reader", "sha256:<64 hex digits>"),
        ("sha256:1234;subject=x;role=reader", "sha256:<64 hex digits>"),
        (f"{hash_api_key(KEY)};subject=x", "grants no role"),
        (f"{hash_api_key(KEY)};subject=x;role=root", "unknown role 'root'"),
        (f"{hash_api_key(KEY)};subject=x;roles=reader", "not one of subject"),
        (f"{hash_api_key(KEY)};subject=x;role=", "not one of subject"),
    ],
)
def test_a_malformed_entry_is_refused_with_the_format(entry: str, message: str) -> None:
    with pytest.raises(SettingsError, match=re.escape(message)):
        parse_api_key(entry)


def test_a_key_in_clear_text_is_never_accepted_as_configuration() -> None:
    with pytest.raises(SettingsError) as refused:
        ApiKeyTable([f"{KEY};subject=x;role=reader"])
    assert KEY not in str(refused.value)


def test_a_key_is_found_by_its_digest_with_or_without_a_scheme() -> None:
    table = ApiKeyTable([f"{hash_api_key(KEY)};subject=gw;role=reader"])

    for presented in (KEY, f"ApiKey {KEY}", f"Bearer {KEY}", f"  bearer   {KEY} "):
        principal = table.principal(presented)
        assert principal is not None, presented
        assert (principal.subject, principal.roles) == ("gw", frozenset({"reader"})), presented
    assert table.principal(KEY + "x") is None
    assert table.principal(None) is None


def test_the_same_digest_twice_is_refused() -> None:
    entry = f"{hash_api_key(KEY)};subject=gw;role=reader"
    with pytest.raises(SettingsError, match="twice"):
        ApiKeyTable([entry, entry])


def test_keys_come_from_the_environment_comma_separated() -> None:
    other = "titan_" + "o" * 43
    settings = load_settings(environ={
        "TITAN_API_KEYS": f"{hash_api_key(KEY)};subject=a;role=reader,{hash_api_key(other)};subject=b;role=admin",
    })  # fmt: skip

    table = ApiKeyTable(settings.api_keys)

    assert len(table) == 2
    assert [table.principal(key).subject for key in (KEY, other)] == ["a", "b"]  # type: ignore[union-attr]


def test_titan_keys_new_prints_a_fresh_key_and_the_entry_that_lets_it_in(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert (
        main(["keys", "new", "--subject", "line1", "--role", "writer", "--scope", "https://plant/line1/*"])
        == 0
    )
    output = capsys.readouterr().out
    key = re.search(r"key \(give it to the client.*\): (\S+)", output).group(1)  # type: ignore[union-attr]
    entry = re.search(r"api_keys entry .*: (\S+)$", output.strip()).group(1)  # type: ignore[union-attr]

    principal = ApiKeyTable([entry]).principal(key)

    assert key.startswith("titan_") and len(key) == 49 and key not in entry
    assert principal is not None
    assert (principal.subject, principal.roles, principal.scopes) == (
        "line1", frozenset({"writer"}), ("https://plant/line1/*",),
    )  # fmt: skip
    assert new_api_key() != new_api_key()


def test_titan_keys_hash_reads_the_key_from_stdin_and_refuses_short_ones(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(KEY + "\n"))
    assert main(["keys", "hash", "--subject", "dash"]) == 0
    entry = capsys.readouterr().out.strip().split(": ")[-1]
    assert entry == f"{hash_api_key(KEY)};subject=dash;role=reader"

    monkeypatch.setattr("sys.stdin", io.StringIO("password123\n"))
    assert main(["keys", "hash"]) == 2
    assert "at least 32" in capsys.readouterr().err


@pytest.mark.parametrize("header", ["X-API-Key", "Authorization"])
async def test_a_request_presents_a_key_in_either_header(secure_client: AppClient, header: str) -> None:
    value = KEYS["reader"] if header == "X-API-Key" else f"ApiKey {KEYS['reader']}"

    response = await secure_client.get(f"/shells/{b64(SHELL_ID)}", headers={header: value})
    # A write is refused by name: the server knows the caller as the reader key's subject.
    refused = await secure_client.delete(f"/shells/{b64(SHELL_ID)}", headers={header: value})

    assert response.status == 200, await response.text()
    assert (await response.json())["id"] == SHELL_ID
    assert refused.status == 403
    assert "'dashboard' may not" in await refused.text()

"""Who changed what (issue 13): every outbox row records the subject that made the change, and the
envelope carries it as `titansubject` only where `events_include_subject` is on. On SQLite and
PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from pathlib import Path
from typing import Any

import jwt
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import create_async_engine

from titan_core.cli import main as titan_main
from titan_core.credentials.api_keys import config_entry, hash_api_key, new_api_key
from titan_core.settings import Settings
from titan_core.store.tables import event_outbox
from titan_core.testing import RecordingSink, TitanClients

from .helpers import assert_valid_event, call, submodel

SUBJECT = "line1-gateway"


async def outbox_rows(database_url: str) -> list[tuple[dict[str, Any], str | None]]:
    """(envelope, subject column) of every outbox row, in insert order."""
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            result = await connection.execute(
                select(event_outbox.c.envelope, event_outbox.c.subject).order_by(event_outbox.c.id)
            )
            return [(json.loads(envelope), subject) for envelope, subject in result]
    finally:
        await engine.dispose()


async def write_with_api_key(
    make_titan_client: TitanClients, settings: Settings, *, include_subject: bool
) -> dict[str, Any]:
    """POST a submodel with a fresh API key of SUBJECT; returns the published `created` envelope."""
    key = new_api_key()
    secure = settings.replace(
        auth_enabled=True,
        api_keys=(config_entry(hash_api_key(key), SUBJECT, ["writer"]),),
        events_include_subject=include_subject,
    )
    sink = RecordingSink("audit")
    client = await make_titan_client(secure, sinks=[sink])
    await call(client, "POST", "/submodels", 201, json=submodel(), headers={"X-API-Key": key})
    await sink.wait_for(lambda events: len(events) >= 1)
    (event,) = sink.events
    return assert_valid_event(event.json)


async def test_a_rest_write_with_an_api_key_carries_the_key_subject_as_titansubject(
    make_titan_client: TitanClients, settings: Settings
) -> None:
    envelope = await write_with_api_key(make_titan_client, settings, include_subject=True)

    assert (envelope["titanorigin"], envelope["titansubject"]) == ("rest", SUBJECT)
    assert [subject for _, subject in await outbox_rows(settings.database_url)] == [SUBJECT]


async def test_a_rest_write_with_a_jwt_carries_its_sub_as_titansubject(
    make_titan_client: TitanClients, settings: Settings
) -> None:
    secret = secrets.token_urlsafe(32)
    claims = {"sub": "alice@example.com", "iss": "https://idp.example", "aud": "titan", "roles": ["writer"],
              "exp": int(time.time()) + 600}  # fmt: skip
    secure = settings.replace(
        auth_enabled=True, jwt_secret=secret, jwt_issuer="https://idp.example", jwt_audience="titan",
        events_include_subject=True,
    )  # fmt: skip
    sink = RecordingSink("audit")
    client = await make_titan_client(secure, sinks=[sink])
    bearer = {"Authorization": f"Bearer {jwt.encode(claims, secret, algorithm='HS256')}"}
    await call(client, "POST", "/submodels", 201, json=submodel(), headers=bearer)
    await sink.wait_for(lambda events: len(events) >= 1)

    assert assert_valid_event(sink.events[0].json)["titansubject"] == "alice@example.com"


async def test_without_the_setting_the_envelope_has_no_titansubject_but_the_outbox_records_it(
    make_titan_client: TitanClients, settings: Settings
) -> None:
    envelope = await write_with_api_key(make_titan_client, settings, include_subject=False)

    assert "titansubject" not in envelope
    ((stored, subject),) = await outbox_rows(settings.database_url)
    assert ("titansubject" not in stored, subject) == (True, SUBJECT)


async def test_titan_load_records_the_operator_given_or_the_os_user(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `titan load` runs its own event loop: it gets a thread of its own.
    monkeypatch.setenv("TITAN_EVENTS_INCLUDE_SUBJECT", "true")
    monkeypatch.setenv("LOGNAME", "os-operator")  # what getpass.getuser() reads first
    path = tmp_path / "environment.json"
    database = ["--database-url", settings.database_url]

    path.write_text(json.dumps({"submodels": [submodel()]}))
    assert await asyncio.to_thread(titan_main, ["load", str(path), "--operator", "alice", *database]) == 0
    changed = submodel()
    changed["submodelElements"][1]["value"] = "9"  # Speed
    path.write_text(json.dumps({"submodels": [changed]}))
    assert await asyncio.to_thread(titan_main, ["load", str(path), *database]) == 0

    rows = await outbox_rows(settings.database_url)
    assert [(env["titanorigin"], env["titansubject"], subject) for env, subject in rows] == [
        ("load", "alice", "alice"),  # created
        ("load", "os-operator", "os-operator"),  # updated
        ("load", "os-operator", "os-operator"),  # valueChanged
    ]

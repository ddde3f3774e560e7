"""The hooks for service plugins (docs/plugins.md, "Hooks for service plugins"), through the tiny
test plugin `service_plugin`: its migrations, its work inside the core's write transactions, its
own event kind, and the services an instance serves."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from tests.support.twins import b64, prop, shell, submodel
from titan_core.eventtypes.change import Change
from titan_core.eventtypes.kinds import EntityKind, register_entity_kinds
from titan_core.eventtypes.schema import validate_envelope
from titan_core.plugins import get_plugin_manager
from titan_core.settings import Settings, SettingsError
from titan_core.store.database import PluginMigrationFailed
from titan_core.testing import AppClient, TitanClients

from .service_plugin import BRANCH, BROKEN_MIGRATIONS, KIND, PROFILE, SERVICE, ServicePlugin

SHELL_ID = "https://example.com/svc/shell/1"
DEADLINE = 10.0


async def events_until(client: AppClient, count: int, query: str = "") -> list[dict[str, Any]]:
    """The first `count` events of `GET /events` (with `query`), waiting for them up to a deadline."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DEADLINE
    events: list[dict[str, Any]] = []
    while True:
        response = await client.get(f"/events?after=0&limit=1000&wait=1{query}")
        assert response.status == 200, await response.text()
        events = (await response.json())["result"]
        if len(events) >= count:
            return events
        assert loop.time() < deadline, f"{count} events expected within {DEADLINE} s, got {events}"


async def plugin_client(
    make_titan_client: TitanClients, settings: Settings, plugin: ServicePlugin, **changes: Any
) -> AppClient:
    return await make_titan_client(settings.replace(**changes), plugins=[("svcplug", plugin)])


async def tables_and_revisions(url: str) -> tuple[set[str], set[str]]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            tables = set(await connection.run_sync(lambda sync: sa.inspect(sync).get_table_names()))
            revisions: set[str] = set()
            if "alembic_version" in tables:
                rows = await connection.execute(sa.text("SELECT version_num FROM alembic_version"))
                revisions = {row[0] for row in rows}
            columns: list[str] = []
            if "svcplug_shell_index" in tables:
                columns = await connection.run_sync(
                    lambda sync: [
                        column["name"] for column in sa.inspect(sync).get_columns("svcplug_shell_index")
                    ]
                )
    finally:
        await engine.dispose()
    return tables | {f"svcplug_shell_index.{name}" for name in columns}, revisions


# --- titan_migrations ---------------------------------------------------------------------------


async def check_migrated(make_titan_client: TitanClients, settings: Settings) -> None:
    await plugin_client(make_titan_client, settings, ServicePlugin())
    tables, revisions = await tables_and_revisions(settings.database_url)
    assert {"identifiables", "event_outbox", "svcplug_shell_index.note"} <= tables
    # The plugin's branch at its head (its two revisions applied in order). Alembic records only
    # that one: the core's head 0007 is implied, the branch `depends_on` it.
    assert revisions == {"svcplug_0002"}
    # Again: nothing pending, nothing fails.
    await make_titan_client.close()
    await plugin_client(make_titan_client, settings, ServicePlugin())
    assert (await tables_and_revisions(settings.database_url))[1] == revisions


async def test_hook_titan_migrations(make_titan_client: TitanClients, settings: Settings) -> None:
    await check_migrated(make_titan_client, settings)


@pytest.mark.postgresql
async def test_plugin_migrations_on_postgresql(
    make_titan_client: TitanClients, settings: Settings, make_postgres_database: Callable[[], str]
) -> None:
    await check_migrated(make_titan_client, settings.replace(database_url=make_postgres_database()))


async def test_a_plugin_branch_added_to_a_database_the_core_migrated_before(
    make_titan_client: TitanClients, settings: Settings
) -> None:
    await make_titan_client(settings)  # the core alone, as before the plugin was installed
    assert (await tables_and_revisions(settings.database_url))[1] == {"0007_semantic_keys_seq"}
    await make_titan_client.close()
    await plugin_client(make_titan_client, settings, ServicePlugin())
    tables, revisions = await tables_and_revisions(settings.database_url)
    assert "svcplug_shell_index.note" in tables and revisions == {"svcplug_0002"}


async def test_a_failing_plugin_migration_stops_the_start_naming_the_plugin(
    make_titan_client: TitanClients, settings: Settings
) -> None:
    with pytest.raises(PluginMigrationFailed) as raised:
        await plugin_client(make_titan_client, settings, ServicePlugin(versions=BROKEN_MIGRATIONS))
    message = str(raised.value)
    assert raised.value.plugin == "svcplug"
    assert "plugin 'svcplug' (branch 'svcplug')" in message and "svcplug_no_such_table" in message
    assert "TITAN_DISABLE_PLUGINS=svcplug" in message
    # One transaction: nothing of the failed run is kept, not even the branch's first table.
    tables, revisions = await tables_and_revisions(settings.database_url)
    assert "svcplug_shell_index" not in tables and "svcplug_0001" not in revisions


async def test_a_branch_without_its_label_is_blamed_on_its_plugin(
    make_titan_client: TitanClients, settings: Settings, tmp_path: Any
) -> None:
    versions = tmp_path / "versions"
    versions.mkdir()
    (versions / "svcplug_0001.py").write_text(
        'revision = "svcplug_0001"\ndown_revision = None\nbranch_labels = None\ndepends_on = None\n'
        "def upgrade():\n    pass\n"
    )
    with pytest.raises(PluginMigrationFailed, match=r"plugin 'svcplug' \(branch 'svcplug'\) failed"):
        await plugin_client(make_titan_client, settings, ServicePlugin(versions=versions))


# --- titan_write_transaction -------------------------------------------------------------------


async def test_hook_titan_write_transaction(make_titan_client: TitanClients, settings: Settings) -> None:
    plugin = ServicePlugin()
    client = await plugin_client(make_titan_client, settings, plugin, events_include_subject=True)

    response = await client.post("/shells", json=shell(SHELL_ID))
    assert response.status == 201, await response.text()

    # The plugin's row, written on the write's connection, and its event after the core's.
    listed = await client.get("/svc-descriptors")
    assert (await listed.json())["result"] == [{"id": SHELL_ID, "origin": "rest", "note": None}]
    created, descriptor = await events_until(client, 2)
    assert (created["titanentity"], descriptor["titanentity"]) == ("shell", KIND.name)
    assert descriptor["source"] == "/svc-descriptors/" + b64(SHELL_ID)
    assert descriptor["type"] == "io.admin-shell.events.v1.created"
    # Same write, same origin and subject.
    assert descriptor["titanorigin"] == created["titanorigin"] == "rest"
    assert descriptor["titansubject"] == created["titansubject"]
    assert plugin.calls[0] == ("rest", ["shell"], created["titansubject"])
    for event in (created, descriptor):
        validate_envelope(event)


async def test_the_hook_sees_group_committed_value_writes(
    make_titan_client: TitanClients, settings: Settings
) -> None:
    plugin = ServicePlugin()
    client = await plugin_client(make_titan_client, settings, plugin)
    submodel_id = "https://example.com/svc/sm/1"
    assert (await client.post("/submodels", json=submodel(submodel_id, [prop("Speed", "1")]))).status == 201
    response = await client.patch(f"/submodels/{b64(submodel_id)}/submodel-elements/Speed/$value", json="2")
    assert response.status == 204, await response.text()
    assert ("rest", ["element"], "anonymous") in plugin.calls


async def test_a_raising_write_hook_rolls_back_the_twin_write_and_its_events(
    make_titan_client: TitanClients, settings: Settings
) -> None:
    refused = "https://example.com/svc/refused"
    client = await plugin_client(make_titan_client, settings, ServicePlugin(refuse=refused))

    response = await client.post("/shells", json=shell(refused))
    assert response.status == 409, await response.text()
    assert "refuses the shell" in (await response.json())["messages"][0]["text"]
    assert (await client.get(f"/shells/{b64(refused)}")).status == 404

    # A write after it is the barrier: once its events are out, the refused one's would be too.
    assert (await client.post("/shells", json=shell(SHELL_ID))).status == 201
    events = await events_until(client, 2)
    assert [event["titanid"] for event in events] == [SHELL_ID, SHELL_ID]
    listed = await client.get("/svc-descriptors")
    assert [row["id"] for row in (await listed.json())["result"]] == [SHELL_ID]


async def test_the_recorder_calls_the_hooks_for_an_environment_import(settings: Settings) -> None:
    """`titan load` and package imports go through `import_environment`, which records through the
    same recorder: the hook sees their changes and its rows commit with them."""
    from titan_core.auth import ANONYMOUS
    from titan_core.store.database import Database
    from titan_core.store.outbox import OutboxRecorder
    from titan_core.store.repository import Repository

    plugin = ServicePlugin()
    calls: list[str] = []

    def hook(connection: sa.Connection, changes: Any, origin: str, subject: str | None) -> Any:
        calls.append(origin)
        return plugin.titan_write_transaction(connection, changes, origin, subject)

    register_entity_kinds([KIND], owner="test")
    database = Database(settings.database_url)
    try:
        await database.migrate([("svcplug", plugin.titan_migrations()[0])])
        repository = Repository(database, recorder=OutboxRecorder(write_hooks=[hook]))
        await repository.import_environment(
            {"assetAdministrationShells": [shell(SHELL_ID)]}, origin="load", principal=ANONYMOUS
        )
        async with repository.reading() as connection:
            rows = (
                await connection.execute(sa.text("SELECT shell_id, origin FROM svcplug_shell_index"))
            ).all()
    finally:
        await database.close()
    assert calls == ["load"] and [tuple(row) for row in rows] == [(SHELL_ID, "load")]


# --- Repository.transaction ---------------------------------------------------------------------


async def test_a_plugin_transaction_commits_its_rows_with_its_events(
    make_titan_client: TitanClients, settings: Settings
) -> None:
    plugin = ServicePlugin()
    client = await plugin_client(make_titan_client, settings, plugin)
    assert (await client.post("/shells", json=shell(SHELL_ID))).status == 201

    failed = await client.put(
        f"/svc-descriptors/{SHELL_ID.replace('/', '%2F')}", json={"note": "x", "fail": True}
    )
    assert failed.status == 409
    done = await client.put(f"/svc-descriptors/{SHELL_ID.replace('/', '%2F')}", json={"note": "kept"})
    assert done.status == 200, await done.text()

    events = await events_until(client, 3)
    updates = [event for event in events if event["type"].endswith(".updated")]
    assert [(event["titanentity"], event["data"]["note"], event["titanorigin"]) for event in updates] == [
        (KIND.name, "kept", "plugin:svcplug")
    ]
    listed = await client.get("/svc-descriptors")
    assert (await listed.json())["result"][0]["note"] == "kept"
    # The write hooks see the core's changes only, never a plugin's own.
    assert [entities for _, entities, _ in plugin.calls] == [["shell"]]


async def test_a_plugin_records_only_changes_of_registered_plugin_kinds(settings: Settings) -> None:
    from titan_core.auth import ANONYMOUS, Principal
    from titan_core.errors import Forbidden
    from titan_core.plugin_api import Change
    from titan_core.store.database import Database
    from titan_core.store.repository import Repository

    register_entity_kinds([KIND], owner="test")
    database = Database(settings.database_url)
    try:
        await database.migrate()
        repository = Repository(database)
        async with repository.transaction(ANONYMOUS, origin="plugin:svcplug") as transaction:
            with pytest.raises(ValueError, match="its own entity kinds, not 'shell'"):
                transaction.record(Change("created", "shell", SHELL_ID, data={}))
            with pytest.raises(ValueError, match="no plugin registered that kind"):
                transaction.record(Change("created", "nobody_kind", SHELL_ID, data={}))
            with pytest.raises(ValueError, match="not 'valueChanged'"):
                transaction.record(Change("valueChanged", KIND.name, SHELL_ID, data={}))
        reader = Principal(subject="reader", roles=frozenset({"reader"}))
        with pytest.raises(Forbidden, match="needs the role 'writer'"):
            async with repository.transaction(reader, origin="plugin:svcplug"):
                pass
    finally:
        await database.close()


async def test_a_write_hook_returning_a_core_change_fails_the_write_naming_the_plugin(
    make_titan_client: TitanClients, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    from titan_core.plugin_api import hookimpl

    class Wrong:
        @hookimpl
        def titan_write_transaction(self, changes: Any) -> list[Change]:
            return [Change("updated", "submodel", "x", data={})]

    client = await make_titan_client(settings, plugins=[("wrong", Wrong())])
    response = await client.post("/shells", json=shell(SHELL_ID))
    assert response.status == 500
    assert (await client.get(f"/shells/{b64(SHELL_ID)}")).status == 404
    assert "titan_write_transaction of plugin 'wrong'" in caplog.text


# --- titan_entity_kinds -------------------------------------------------------------------------


async def test_hook_titan_entity_kinds(make_titan_client: TitanClients, settings: Settings) -> None:
    client = await plugin_client(make_titan_client, settings, ServicePlugin())
    assert (await client.post("/shells", json=shell(SHELL_ID))).status == 201

    (only,) = await events_until(client, 1, f"&entity_types={KIND.name}")
    assert only["titanentity"] == KIND.name
    refused = await client.get("/events?entity_types=no_such_kind")
    assert refused.status == 400 and KIND.name in await refused.text()

    # The Event Feed: the kind's own type, the name in camelCase.
    body = await (await client.get("/event-feed?limit=10")).json()
    types = [record["type"] for record in body["records"]]
    assert types == ["io.admin-shell.aas.created.v1", "io.admin-shell.svcDescriptor.created.v1"], body
    capabilities = await (await client.get("/.well-known/event-feed.json")).json()
    assert "io.admin-shell.svcDescriptor.deleted.v1" in capabilities["eventTypes"]


def test_entity_kinds_are_checked_and_cannot_redefine() -> None:
    with pytest.raises(ValueError, match="lower-case letters"):
        EntityKind("ShellDescriptor", "/x/")
    with pytest.raises(ValueError, match="starts and ends with '/'"):
        EntityKind("x_kind", "x")
    with pytest.raises(ValueError, match="one of the core's"):
        register_entity_kinds([EntityKind("shell", "/other/")], owner="test")
    register_entity_kinds([KIND], owner="test")
    register_entity_kinds([KIND], owner="test again")  # the same declaration: idempotent
    with pytest.raises(ValueError, match="already registered"):
        register_entity_kinds([EntityKind(KIND.name, "/elsewhere/")], owner="test")
    assert EntityKind("shell_descriptor", "/shell-descriptors/").feed_resource == "shellDescriptor"


def test_a_plugin_redefining_a_kind_is_taken_out(settings: Settings) -> None:
    from aiohttp import web

    from titan_core.plugin_api import hookimpl
    from titan_core.plugins import prepare

    class Clash:
        @hookimpl
        def titan_entity_kinds(self) -> list[EntityKind]:
            return [EntityKind("submodel", "/mine/")]

    manager = get_plugin_manager(settings, load_entry_points=False)
    record = manager.add_plugin(Clash(), "clash")
    prepare(web.Application(), settings, manager)
    assert record.state == "failed" and "one of the core's" in record.reason


# --- titan_services -----------------------------------------------------------------------------


async def test_hook_titan_services(make_titan_client: TitanClients, settings: Settings) -> None:
    client = await plugin_client(make_titan_client, settings, ServicePlugin(), services=(SERVICE,))

    assert (await client.get("/shells")).status == 404
    assert (await client.get("/api/v3.0/submodels")).status == 404
    assert (await client.get("/svc-descriptors")).status == 200
    for path in ("/health", "/ready", "/openapi.json", "/events?after=0"):
        assert (await client.get(path)).status == 200, path
    assert await (await client.get("/description")).json() == {"profiles": [PROFILE]}
    assert await (await client.get("/api/v3.0/description")).json() == {"profiles": [PROFILE]}
    paths = (await (await client.get("/openapi.json")).json())["paths"]
    assert not any(path.startswith("/shells") for path in paths)
    links = (await (await client.get("/", headers={"Accept": "application/json"})).json())["links"]
    assert "shells" not in links and "description" in links


async def test_services_default_to_every_installed_one(
    make_titan_client: TitanClients, settings: Settings
) -> None:
    client = await plugin_client(make_titan_client, settings, ServicePlugin())
    profiles = (await (await client.get("/description")).json())["profiles"]
    assert profiles[-1] == PROFILE and len(profiles) > 1
    assert (await client.get("/shells")).status == 200

    only_core = await plugin_client(make_titan_client, settings, ServicePlugin(), services=("repository",))
    assert (await only_core.get("/svc-descriptors")).status == 404
    assert PROFILE not in (await (await only_core.get("/description")).json())["profiles"]


async def test_an_unknown_service_is_refused_naming_the_installed_ones(
    make_titan_client: TitanClients, settings: Settings
) -> None:
    with pytest.raises(SettingsError, match=r"unknown service\(s\) 'registry'.*repository, svc"):
        await plugin_client(make_titan_client, settings, ServicePlugin(), services=("registry",))


async def test_plugin_routes_pass_the_core_access_control_and_error_bodies(
    make_titan_client: TitanClients, settings: Settings
) -> None:
    from tests.security.twins import API_KEY_ENTRIES, KEYS

    secure = settings.replace(auth_enabled=True, api_keys=API_KEY_ENTRIES)
    client = await plugin_client(make_titan_client, secure, ServicePlugin())

    def key(name: str) -> dict[str, str]:
        return {"X-API-Key": KEYS[name]}

    assert (await client.get("/svc-descriptors")).status == 401  # no credential
    assert (await client.get("/svc-descriptors", headers=key("reader"))).status == 200  # GET: reader
    refused = await client.put("/svc-descriptors/x", json={"note": "n"}, headers=key("reader"))
    assert refused.status == 403  # PUT: writer
    assert "needs the role 'writer'" in (await refused.json())["messages"][0]["text"]
    # requires_role(ROLE_ADMIN): a writer may not, the admin may.
    assert (await client.post("/svc-admin/reindex", headers=key("writer"))).status == 403
    done = await client.post("/svc-admin/reindex", headers=key("admin"))
    assert done.status == 200 and (await done.json())["by"] == "operator"
    # A TitanError raised in a plugin's handler answers with the IDTA error body.
    failed = await client.put("/svc-descriptors/x", json={"note": "n", "fail": True}, headers=key("writer"))
    body = await failed.json()
    assert failed.status == 409 and body["messages"][0]["messageType"] == "Error"


def test_serves_reads_the_setting(settings: Settings) -> None:
    from titan_core.plugin_api import serves

    assert serves(settings, "anything")  # empty: every installed service
    assert serves(settings.replace(services=("svc",)), "svc")
    assert not serves(settings.replace(services=("svc",)), "repository")


def test_the_branch_name_is_checked() -> None:
    from titan_core.plugin_api import MigrationSource

    with pytest.raises(ValueError, match="MigrationSource is not valid: branch 'Bad-Name'"):
        MigrationSource("Bad-Name", BROKEN_MIGRATIONS)
    assert MigrationSource(BRANCH, BROKEN_MIGRATIONS).branch == BRANCH


# --- `titan migrate` with an installed plugin ---------------------------------------------------


def installed_plugin_source(versions: Any) -> str:
    return (
        "from pathlib import Path\n"
        "from titan_core.plugin_api import MigrationSource, hookimpl\n\n"
        "@hookimpl\n"
        "def titan_migrations():\n"
        f"    return [MigrationSource('svcplug', Path({str(versions)!r}))]\n"
    )


@pytest.mark.parametrize("broken", [False, True], ids=["applies", "fails-naming-the-plugin"])
def test_titan_migrate_migrates_the_installed_plugins_branches(
    fake_distributions: Any,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Any,
    capsys: pytest.CaptureFixture[str],
    broken: bool,
) -> None:
    from titan_core.cli import main

    from .service_plugin import MIGRATIONS

    fake_distributions.add("svcentry", installed_plugin_source(BROKEN_MIGRATIONS if broken else MIGRATIONS))
    monkeypatch.setenv("TITAN_PLUGINS", "svcentry")
    url = f"sqlite+aiosqlite:///{tmp_path}/migrated.sqlite3"

    code = main(["migrate", "--database-url", url])

    tables, revisions = asyncio.run(tables_and_revisions(url))
    if broken:
        assert code == 1
        assert "plugin 'svcentry' (branch 'svcplug') failed" in capsys.readouterr().err
        assert "svcplug_shell_index" not in tables
    else:
        assert code == 0, capsys.readouterr().err
        assert "svcplug_shell_index.note" in tables and revisions == {"svcplug_0002"}


def test_titan_migrate_stops_on_a_failed_plugin_when_plugins_are_required(
    fake_distributions: Any,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from titan_core.cli import main

    fake_distributions.add("svcentry", "raise ImportError('no such dependency')\n")
    monkeypatch.setenv("TITAN_PLUGINS", "svcentry")
    monkeypatch.setenv("TITAN_REQUIRE_PLUGINS", "true")

    assert main(["migrate", "--database-url", f"sqlite+aiosqlite:///{tmp_path}/m.sqlite3"]) == 2
    assert "plugin 'svcentry' failed" in capsys.readouterr().err

"""One Alembic run over the core's chain and every plugin's branch (`titan_migrations`).

The core's revisions live in `migrations/versions`; each plugin adds its own versions directory as
another Alembic version location, its revisions a branch labelled after it. The core's chain is
upgraded first, then each plugin's branch to its head, all on the one connection the caller's
transaction holds: a failing plugin migration leaves nothing of the run behind.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from titan_core.store.migration_sources import MigrationSource

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
CORE_VERSIONS = MIGRATIONS_DIR / "versions"


class BranchFailed(Exception):
    """A plugin's migration branch is broken or could not be applied; names the plugin."""

    def __init__(self, plugin: str, branch: str, detail: str) -> None:
        super().__init__(f"the migrations of plugin {plugin!r} (branch {branch!r}) failed: {detail}")
        self.plugin = plugin
        self.branch = branch


def alembic_config(connection: Connection, sources: Sequence[MigrationSource] = ()) -> Config:
    """The Alembic configuration of the core's chain plus `sources`' branches, on `connection`."""
    config = Config()
    config.set_main_option("script_location", _escaped(MIGRATIONS_DIR))
    config.set_main_option("path_separator", "os")
    locations = [CORE_VERSIONS, *(source.versions for source in sources)]
    config.set_main_option("version_locations", os.pathsep.join(_escaped(path) for path in locations))
    config.attributes["connection"] = connection
    return config


def upgrade_all(connection: Connection, plugins: Sequence[tuple[str, MigrationSource]]) -> None:
    """Upgrade the core's chain and every plugin branch (`plugins`: plugin name, source) to its head."""
    for plugin, source in plugins:
        _check_branch(connection, plugin, source)
    config = alembic_config(connection, [source for _, source in plugins])
    command.upgrade(config, _core_head(ScriptDirectory.from_config(config)))
    for plugin, source in plugins:
        try:
            command.upgrade(config, f"{source.branch}@head")
        except Exception as exc:
            raise BranchFailed(plugin, source.branch, _first_line(exc)) from exc


def _check_branch(connection: Connection, plugin: str, source: MigrationSource) -> None:
    """Read the plugin's branch beside the core's chain alone, so that a broken revision file, a
    missing label or a revision of another branch is blamed on the plugin that brought it."""
    if not source.versions.is_dir():
        raise BranchFailed(plugin, source.branch, f"{source.versions} is not a directory")
    try:
        script = ScriptDirectory.from_config(alembic_config(connection, [source]))
        heads = script.get_revisions(f"{source.branch}@head")
        outside = [
            revision.revision
            for revision in script.walk_revisions()
            if Path(revision.path).parent == source.versions and source.branch not in revision.branch_labels
        ]
    except Exception as exc:
        raise BranchFailed(plugin, source.branch, _first_line(exc)) from exc
    if not heads:
        raise BranchFailed(plugin, source.branch, f"no revision is labelled {source.branch!r}")
    if outside:
        raise BranchFailed(
            plugin,
            source.branch,
            f"revision(s) {', '.join(outside)} in {source.versions} are not on the branch: the first "
            f"revision needs branch_labels = ({source.branch!r},) and the others must follow it",
        )


def _core_head(script: ScriptDirectory) -> str:
    """The head of the core's chain: `head` is ambiguous once plugin branches are present, and a
    core revision a plugin `depends_on` is no longer among Alembic's `heads`."""
    core = [revision for revision in script.walk_revisions() if Path(revision.path).parent == CORE_VERSIONS]
    below = {parent for revision in core for parent in revision._all_down_revisions}
    heads = [revision.revision for revision in core if revision.revision not in below]
    if len(heads) != 1:
        raise RuntimeError(f"the core's migrations must have one head, found {heads} (a bug in Titan)")
    return heads[0]


def _escaped(path: Path) -> str:
    # Alembic's configuration interpolates `%`.
    return str(path).replace("%", "%%")


def _first_line(exc: BaseException) -> str:
    detail = str(getattr(exc, "orig", None) or exc).strip()
    return f"{type(exc).__name__}: {detail.splitlines()[0] if detail else ''}"

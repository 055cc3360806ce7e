"""Alembic migrations for the core and every loaded plugin, run as one upgrade.

Each plugin ships its own version folder (its manifest's `migrations`), on its own
Alembic branch, so installing a plugin adds its tables without touching anyone else's.
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib import resources
from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from greenroom.db.engine import Database


def _package_dir(spec: str) -> str:
    """'package.sub:folder' or 'package.sub' -> a filesystem path."""
    package, _, folder = spec.partition(":")
    base = resources.files(package)
    return str(Path(str(base.joinpath(folder))) if folder else Path(str(base)))


def alembic_config(database: Database, version_locations: Sequence[str]) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", _package_dir("greenroom.db:migrations"))
    locations = [_package_dir("greenroom.db:migrations/versions"), *(_package_dir(v) for v in version_locations)]
    cfg.set_main_option("path_separator", "newline")
    cfg.set_main_option("version_locations", "\n".join(dict.fromkeys(locations)))
    cfg.attributes["database"] = database
    return cfg


def upgrade(database: Database, version_locations: Sequence[str] = (), revision: str = "heads") -> None:
    cfg = alembic_config(database, version_locations)
    with database.engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, revision)


def pending(database: Database, version_locations: Sequence[str] = ()) -> set[str]:
    """Heads that the database has not reached yet."""
    cfg = alembic_config(database, version_locations)
    heads = set(ScriptDirectory.from_config(cfg).get_heads())
    with database.engine.connect() as connection:
        current = set(MigrationContext.configure(connection).get_current_heads())
    return heads - current

"""Alembic migrations for the core and every loaded plugin, run as one upgrade.

Each plugin ships its own version folder (its manifest's `migrations`), on its own Alembic
branch, so installing a plugin adds its tables without touching anyone else's. At start-up
the common case is a database that is already current: that is checked by comparing the
`alembic_version` rows with the heads found in the version files, without importing Alembic.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import inspect, text

from greenroom.db.engine import Database

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig

_REVISION = re.compile(r"^revision\s*=\s*['\"]([^'\"]+)['\"]", re.MULTILINE)
_DOWN = re.compile(r"^down_revision\s*=\s*(.+)$", re.MULTILINE)
_QUOTED = re.compile(r"['\"]([^'\"]+)['\"]")


def _package_dir(spec: str) -> str:
    """'package.sub:folder' or 'package.sub' -> a filesystem path."""
    package, _, folder = spec.partition(":")
    base = resources.files(package)
    return str(Path(str(base.joinpath(folder))) if folder else Path(str(base)))


def version_dirs(version_locations: Sequence[str]) -> list[str]:
    locations = [_package_dir("greenroom.db:migrations/versions"), *(_package_dir(v) for v in version_locations)]
    return list(dict.fromkeys(locations))


def script_heads(version_locations: Sequence[str]) -> set[str]:
    """Heads of the revision graph, read from the version files' `revision`/`down_revision`."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for directory in version_dirs(version_locations):
        for file in Path(directory).glob("*.py"):
            if file.name.startswith("__"):
                continue
            source = file.read_text(encoding="utf-8")
            revision = _REVISION.search(source)
            if revision is None:
                continue
            revisions.add(revision.group(1))
            down = _DOWN.search(source)
            if down is not None:
                parents.update(_QUOTED.findall(down.group(1)))
    return revisions - parents


def database_heads(database: Database) -> set[str]:
    with database.engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return set()
        return {row[0] for row in connection.execute(text("SELECT version_num FROM alembic_version"))}


def alembic_config(database: Database, version_locations: Sequence[str]) -> AlembicConfig:
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", _package_dir("greenroom.db:migrations"))
    cfg.set_main_option("path_separator", "newline")
    cfg.set_main_option("version_locations", "\n".join(version_dirs(version_locations)))
    cfg.attributes["database"] = database
    return cfg


def upgrade(database: Database, version_locations: Sequence[str] = (), revision: str = "heads") -> bool:
    """Bring the schema to `revision`; returns False when it was already current."""
    if revision == "heads" and database_heads(database) == script_heads(version_locations):
        return False
    # Mako, Alembic's template engine (used only to write new revision files), imports Pygments
    # for its HTML tracebacks when it can: 60 ms of a first start-up for nothing greenroom uses.
    sys.modules.setdefault("mako.ext.pygmentplugin", None)  # type: ignore[arg-type]
    from alembic import command

    cfg = alembic_config(database, version_locations)
    with database.engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, revision)
    return True


def pending(database: Database, version_locations: Sequence[str] = ()) -> set[str]:
    """Heads that the database has not reached yet."""
    return script_heads(version_locations) - database_heads(database)

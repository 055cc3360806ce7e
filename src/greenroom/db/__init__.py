"""The database: engine from Backstage-style `backend.database` config, and migrations."""

from greenroom.db.engine import Database, database_url_from_config
from greenroom.db.migrate import upgrade

__all__ = ["Database", "database_url_from_config", "upgrade"]

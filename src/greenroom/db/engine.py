"""Build the SQLAlchemy engine from `backend.database`, accepting Backstage's forms.

    database: { client: better-sqlite3, connection: ':memory:' }
    database: { client: better-sqlite3, connection: ./data/portal.sqlite }
    database: { client: better-sqlite3, connection: { directory: ./data } }   # one file: greenroom.sqlite
    database: { client: pg, connection: postgresql://user:pass@host:5432/db }
    database: { client: pg, connection: { host, port, user, password, database, ssl } }

SQLite runs in WAL mode with foreign keys on; PostgreSQL through psycopg 3.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import StaticPool

from greenroom.config.model import Config
from greenroom.errors import ConfigError

SQLITE_CLIENTS = {"better-sqlite3", "sqlite3"}
PG_CLIENTS = {"pg", "postgres", "postgresql"}


def _pg_url(connection: Any, *, path: str) -> tuple[URL, dict[str, Any]]:
    connect_args: dict[str, Any] = {}
    if isinstance(connection, str):
        url = make_url(connection)
        if url.drivername in ("postgres", "postgresql"):
            url = url.set(drivername="postgresql+psycopg")
        return url, connect_args
    if not isinstance(connection, Mapping):
        raise ConfigError("expected a connection string or object for client pg", path=path)
    if "connectionString" in connection:
        return _pg_url(connection["connectionString"], path=path)
    ssl = connection.get("ssl")
    if isinstance(ssl, Mapping):
        connect_args["sslmode"] = "verify-full" if ssl.get("rejectUnauthorized", True) else "require"
        if ssl.get("ca"):
            # psycopg wants a file; Backstage configs usually give `ca: {$file: ...}` contents
            connect_args["sslrootcert"] = _materialise_ca(str(ssl["ca"]))
    elif ssl is True:
        connect_args["sslmode"] = "require"
    port = connection.get("port")
    url = URL.create(
        "postgresql+psycopg",
        username=connection.get("user"),
        password=connection.get("password"),
        host=connection.get("host"),
        port=int(port) if port not in (None, "") else None,
        database=connection.get("database") or "postgres",
    )
    return url, connect_args


def _materialise_ca(ca: str) -> str:
    if "-----BEGIN" not in ca:
        return ca  # already a path
    import hashlib
    import tempfile

    target = Path(tempfile.gettempdir()) / f"greenroom-ca-{hashlib.sha256(ca.encode()).hexdigest()[:16]}.pem"
    if not target.exists():
        target.write_text(ca, encoding="utf-8")
        target.chmod(0o600)
    return str(target)


def _sqlite_url(connection: Any, *, path: str) -> URL:
    if connection in (None, ""):
        raise ConfigError("SQLite needs a connection (a file path or ':memory:')", path=path)
    if isinstance(connection, Mapping):
        if connection.get("filename"):
            connection = connection["filename"]
        elif connection.get("directory"):
            connection = str(Path(str(connection["directory"])) / "greenroom.sqlite")
        else:
            raise ConfigError("SQLite connection object needs 'filename' or 'directory'", path=path)
    connection = str(connection)
    if connection == ":memory:":
        return URL.create("sqlite", database=":memory:")
    file = Path(connection).expanduser()
    file.parent.mkdir(parents=True, exist_ok=True)
    return URL.create("sqlite", database=str(file.resolve()))


def database_url_from_config(config: Config) -> tuple[URL, dict[str, Any]]:
    client = config.get_str("backend.database.client", "better-sqlite3") or "better-sqlite3"
    connection = config.get("backend.database.connection")
    if client in SQLITE_CLIENTS:
        return _sqlite_url(connection, path="backend.database.connection"), {}
    if client in PG_CLIENTS:
        return _pg_url(connection, path="backend.database.connection")
    raise ConfigError(f"unsupported database client '{client}' (use better-sqlite3, sqlite3 or pg)",
                      path="backend.database.client")


AUTOCHECKPOINT_PAGES = 1000  # SQLite's default
# PostgreSQL connections kept out of the pool for hot single-row reads, per process (one per
# thread that asks, up to this many; other threads use the pool).
MAX_PG_READERS = 4


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    # 16 MiB of page cache per connection: the OS caches the file too, and memory is a
    # budget (a 10k-entity catalog server should stay well under 200 MB).
    cursor.execute("PRAGMA cache_size=-16384")
    # SQLite's own automatic checkpoints keep the log short under small writes (API changes,
    # sessions, audit events); a bulk writer turns them off for its commit (`Database.bulk`).
    cursor.execute(f"PRAGMA wal_autocheckpoint={AUTOCHECKPOINT_PAGES}")
    cursor.close()


class Database:
    """The one engine of a greenroom process."""

    def __init__(self, url: URL | str, *, connect_args: Mapping[str, Any] | None = None, echo: bool = False) -> None:
        url = make_url(url) if isinstance(url, str) else url
        self.url = url
        kwargs: dict[str, Any] = {"echo": echo, "future": True}
        args = dict(connect_args or {})
        if url.get_backend_name() == "sqlite":
            args.setdefault("check_same_thread", False)
            if url.database in (None, "", ":memory:"):
                kwargs["poolclass"] = StaticPool
            kwargs["connect_args"] = args
            self.engine: Engine = create_engine(url, **kwargs)
            event.listen(self.engine, "connect", _sqlite_pragmas)
        else:
            kwargs["connect_args"] = args
            kwargs["pool_pre_ping"] = True
            kwargs["pool_size"] = 10
            kwargs["max_overflow"] = 10
            self.engine = create_engine(url, **kwargs)

        # Hot single-row reads (by-name, by-uid) on a SQLite file go through one plain
        # sqlite3 connection per thread: a fifth of the cost of a pooled SQLAlchemy call.
        self._direct_sqlite = self.is_sqlite and url.database not in (None, "", ":memory:")
        self._readers = threading.local()
        self._reader_connections: list[Any] = []
        self._readers_lock = threading.Lock()

    def fetch_one(self, sql: str, params: Sequence[Any]) -> Any:
        """The first row of a read-only driver-level statement (`?` placeholders on SQLite,
        `%s` on PostgreSQL), or None. For hot paths; everything else uses the engine."""
        if self._direct_sqlite:
            reader = getattr(self._readers, "connection", None)
            if reader is None:
                reader = self._open_reader()
            return reader.execute(sql, params).fetchone()
        import psycopg

        reader = getattr(self._readers, "connection", None)
        if reader is None and len(self._reader_connections) < MAX_PG_READERS:
            reader = self._open_pg_reader()  # None when other threads took the last one
        if reader is not None:
            try:
                with reader.cursor() as cursor:
                    cursor.execute(sql, params)
                    return cursor.fetchone()
            except (psycopg.OperationalError, psycopg.InterfaceError):
                self._forget_reader(reader)  # a dropped connection: the pool below answers this time
        raw = self.engine.raw_connection()
        try:
            cursor = raw.cursor()
            cursor.execute(sql, params)
            row = cursor.fetchone()
            cursor.close()
            return row
        finally:
            raw.close()

    def _open_pg_reader(self) -> Any:
        """A connection of this thread's own, out of the pool and in autocommit: one round trip
        per hot read instead of three (the pool's liveness ping, the query, its rollback)."""
        with self._readers_lock:  # held while connecting: it happens at most MAX_PG_READERS times
            if len(self._reader_connections) >= MAX_PG_READERS:
                return None
            raw = self.engine.raw_connection()
            reader = raw.driver_connection
            assert reader is not None
            raw.detach()
            reader.autocommit = True
            self._reader_connections.append(reader)
        self._readers.connection = reader
        return reader

    def _forget_reader(self, reader: Any) -> None:
        with self._readers_lock:
            if reader in self._reader_connections:
                self._reader_connections.remove(reader)
        self._readers.connection = None
        with contextlib.suppress(Exception):
            reader.close()

    def _open_reader(self) -> sqlite3.Connection:
        assert self.url.database is not None
        reader = sqlite3.connect(self.url.database, check_same_thread=False, isolation_level=None)
        _sqlite_pragmas(reader, None)
        reader.execute("PRAGMA query_only=ON")
        with self._readers_lock:
            self._reader_connections.append(reader)
        self._readers.connection = reader
        return reader

    @classmethod
    def from_config(cls, config: Config) -> Database:
        url, connect_args = database_url_from_config(config)
        return cls(url, connect_args=connect_args)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    @contextlib.contextmanager
    def bulk(self) -> Iterator[Connection]:
        """A write transaction whose commit runs no automatic checkpoint: a big ingestion's commit
        would copy its pages into the database file a second time before returning. Call
        `checkpoint()` after it."""
        with self.engine.connect() as connection:
            if self.is_sqlite:
                connection.exec_driver_sql("PRAGMA wal_autocheckpoint=0")
                connection.commit()
            try:
                with connection.begin():
                    yield connection
            finally:
                if self.is_sqlite:
                    connection.exec_driver_sql(f"PRAGMA wal_autocheckpoint={AUTOCHECKPOINT_PAGES}")
                    connection.commit()

    def refresh_statistics(self, table_names: Sequence[str]) -> None:
        """VACUUM (ANALYZE) tables a bulk write just changed, on PostgreSQL: until autovacuum
        gets to them, plans for a freshly loaded catalog assume it is empty (a facet query on
        100k entities ran for minutes) and its visibility map is unset (no index-only scans).
        A no-op on SQLite, which plans from its indexes."""
        if self.dialect != "postgresql":
            return
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            for name in table_names:
                connection.exec_driver_sql(f'VACUUM (ANALYZE) "{name}"')  # our own table names only

    def checkpoint(self) -> None:
        """Copy SQLite's write-ahead log into the database file (a no-op elsewhere)."""
        if self.is_sqlite and self.url.database not in (None, "", ":memory:"):
            with self.engine.connect() as connection:
                connection.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")

    def describe(self) -> str:
        """The URL without its password, for logs."""
        return self.url.render_as_string(hide_password=True)

    def dispose(self) -> None:
        with self._readers_lock:
            readers, self._reader_connections = self._reader_connections, []
            self._readers = threading.local()
        for reader in readers:
            reader.close()
        self.engine.dispose()

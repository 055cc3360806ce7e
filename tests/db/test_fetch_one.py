"""Database.fetch_one, the hot single-row read path (by-name, by-uid): its own connection per
thread (sqlite3 on SQLite, an autocommit connection outside the pool on PostgreSQL), that sees
committed writes at once and survives its connection being killed."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import create_engine, text

from greenroom.db.engine import MAX_PG_READERS, Database
from tests.conftest import _sqlalchemy_pg, postgres_schema


@pytest.fixture(params=["sqlite", "postgres"])
def database(request, tmp_path):
    if request.param == "sqlite":
        db = Database(f"sqlite:///{tmp_path / 'x.sqlite'}")
        yield db
        db.dispose()
        return
    with postgres_schema() as url:
        db = Database(_sqlalchemy_pg(url))
        yield db
        db.dispose()


def _mark(db: Database) -> str:
    return "?" if db.is_sqlite else "%s"


def test_reads_see_committed_writes_at_once(database):
    with database.engine.begin() as connection:
        connection.execute(text("CREATE TABLE t (k VARCHAR(10) PRIMARY KEY, v VARCHAR(10))"))
        connection.execute(text("INSERT INTO t VALUES ('a', '1')"))
    sql = f"SELECT v FROM t WHERE k = {_mark(database)}"
    assert tuple(database.fetch_one(sql, ("a",))) == ("1",)
    assert database.fetch_one(sql, ("b",)) is None
    with database.engine.begin() as connection:
        connection.execute(text("UPDATE t SET v = '2' WHERE k = 'a'"))
    assert tuple(database.fetch_one(sql, ("a",))) == ("2",)


@pytest.fixture
def postgres_database():
    with postgres_schema() as url:
        db = Database(_sqlalchemy_pg(url))
        yield db
        db.dispose()


def test_postgres_readers_are_capped_and_replaced_when_killed(postgres_database):
    database = postgres_database
    with database.engine.begin() as connection:
        connection.execute(text("CREATE TABLE t (k VARCHAR(10) PRIMARY KEY, v VARCHAR(10))"))
        connection.execute(text("INSERT INTO t VALUES ('a', '1')"))
    sql = "SELECT v, pg_backend_pid() FROM t WHERE k = %s"
    results: list[tuple[str, int]] = []

    def read() -> None:
        results.append(tuple(database.fetch_one(sql, ("a",))))

    threads = [threading.Thread(target=read) for _ in range(MAX_PG_READERS + 3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [value for value, _pid in results] == ["1"] * len(threads)
    assert len(database._reader_connections) <= MAX_PG_READERS

    first = database.fetch_one(sql, ("a",))
    admin = create_engine(str(database.engine.url), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:  # the server drops this thread's reader
        connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first[1]})
    admin.dispose()
    again = database.fetch_one(sql, ("a",))  # answered anyway, through the pool
    assert again[0] == "1"
    assert again[1] != first[1]
    assert database.fetch_one(sql, ("a",))[0] == "1"  # and a new reader of its own after that

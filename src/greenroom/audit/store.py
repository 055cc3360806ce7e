"""Appending to the chain and reading it back.

`append` runs inside the caller's transaction, so an event commits or rolls back with the
change it describes. It locks the chain head first (PostgreSQL: the `UPDATE` takes the head
row's lock until commit; SQLite: the `UPDATE` takes the database write lock), so appenders in
any number of threads and processes get consecutive sequence numbers, and a sequence number
becomes visible only together with every one before it. Append *last* in a transaction:
the head stays locked until commit, and other writers wait for it.
"""

from __future__ import annotations

import base64
import binascii
import operator
import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

import orjson
from sqlalchemy import Connection, and_, func, select
from sqlalchemy.sql.elements import ColumnElement

from greenroom.audit import tables
from greenroom.audit.model import GENESIS_HASH, AuditEvent, StoredEvent
from greenroom.audit.signing import Signer
from greenroom.db.engine import Database
from greenroom.errors import InputError

MAX_PAGE = 1000
DEFAULT_PAGE = 100
_COLUMNS = [tables.events.c[name] for name in StoredEvent.__slots__]
_ROW = operator.attrgetter(*StoredEvent.__slots__)  # a stored event as its row, in column order


@dataclass(frozen=True)
class AuditQuery:
    """Filters of a read of the trail (all optional, combined with AND)."""

    actor: str | None = None
    event_id: str | None = None
    action: str | None = None
    target: str | None = None
    status: str | None = None
    severity: str | None = None
    plugin: str | None = None
    since_us: int | None = None  # inclusive
    until_us: int | None = None  # exclusive
    order: Literal["asc", "desc"] = "desc"

    def conditions(self) -> list[ColumnElement[bool]]:
        e = tables.events.c
        out: list[ColumnElement[bool]] = []
        for column, value in ((e.actor_id, self.actor), (e.event_id, self.event_id), (e.action, self.action),
                              (e.target, self.target), (e.status, self.status), (e.severity, self.severity),
                              (e.plugin, self.plugin)):
            if value is not None:
                out.append(column == value)
        if self.since_us is not None:
            out.append(e.time_us >= self.since_us)
        if self.until_us is not None:
            out.append(e.time_us < self.until_us)
        return out

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


@dataclass(frozen=True)
class AuditPage:
    items: list[StoredEvent]
    next_cursor: str | None
    limit: int


def encode_cursor(query: AuditQuery, after_seq: int) -> str:
    payload = {"q": query.to_json(), "s": after_seq}
    return base64.urlsafe_b64encode(orjson.dumps(payload)).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[AuditQuery, int]:
    bad = InputError("Malformed cursor, could not be parsed")
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        payload = orjson.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
        query = AuditQuery(**payload["q"])
        seq = payload["s"]
    except (binascii.Error, ValueError, KeyError, TypeError, UnicodeEncodeError):
        raise bad from None
    if not isinstance(seq, int) or isinstance(seq, bool) or query.order not in ("asc", "desc"):
        raise bad
    for name, value in query.to_json().items():
        wanted = int if name in ("since_us", "until_us") else str
        if not isinstance(value, wanted) or isinstance(value, bool):
            raise bad
    return query, seq


def random_uuid() -> str:
    """A random (version 4) UUID in its text form, as `str(uuid.uuid4())` gives it, without the
    `uuid.UUID` object (a fifth of the cost; it runs with every audited change)."""
    h = os.urandom(16).hex()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{_VARIANT[h[16]]}{h[17:20]}-{h[20:]}"


# RFC 9562 variant bits: the first hex digit of the fourth group is 8, 9, a or b
_VARIANT = {digit: "89ab"[int(digit, 16) & 3] for digit in "0123456789abcdef"}


class _Statements:
    """The append statements in the driver's parameter style, built once per dialect."""

    _cache: dict[str, _Statements] = {}

    def __init__(self, mark: str) -> None:
        columns = ", ".join(StoredEvent.__slots__)
        marks = ", ".join(mark for _ in StoredEvent.__slots__)
        # Only our own column names and the driver's placeholder go into these strings.
        self.take_head = f"UPDATE audit_chain_head SET seq = seq + {mark} WHERE id = 1 RETURNING seq, hash"  # noqa: S608
        self.insert = f"INSERT INTO audit_events ({columns}) VALUES ({marks})"  # noqa: S608
        self.set_head = (f"UPDATE audit_chain_head SET hash = {mark}, mac = {mark}, "  # noqa: S608
                         f"key_id = {mark} WHERE id = 1")
        # PostgreSQL: one event and the new head in one round trip (a data-modifying CTE).
        self.insert_and_set_head = f"WITH appended AS ({self.insert}) {self.set_head}" if mark == "%s" else None
        # With the head this process expects: move it only if it is still there (a compare-and-set
        # that waits for the row lock like any update), and on PostgreSQL insert the event in the
        # same statement, from the updated row (no row: nothing inserted, the head was elsewhere).
        self.move_head = (f"UPDATE audit_chain_head SET seq = {mark}, hash = {mark}, mac = {mark}, "  # noqa: S608
                          f"key_id = {mark} WHERE id = 1 AND seq = {mark} AND hash = {mark}")
        self.move_head_and_insert = (
            f"WITH moved AS ({self.move_head} RETURNING 1) INSERT INTO audit_events ({columns}) "  # noqa: S608
            f"SELECT {marks} FROM moved" if mark == "%s" else None
        )

    @classmethod
    def of(cls, connection: Connection) -> _Statements:
        name = connection.dialect.name
        found = cls._cache.get(name)
        if found is None:
            found = cls._cache[name] = cls("%s" if name == "postgresql" else "?")
        return found


def _insert(cursor: Any, sql: _Statements, rows: list[tuple[Any, ...]]) -> None:
    if len(rows) == 1:
        cursor.execute(sql.insert, rows[0])
    else:
        cursor.executemany(sql.insert, rows)


class AuditStore:
    def __init__(self, database: Database, *, signer: Signer | None = None) -> None:
        self.database = database
        self.signer = signer
        # The chain head as this process last wrote or read it: a hint that lets an append skip
        # reading the head (PostgreSQL: one round trip instead of two). The database decides:
        # a stale hint (another process appended, or the transaction that set it rolled back)
        # moves nothing, and the append then takes the head as it is.
        self._expected: tuple[int, str] | None = None

    # -- writing ----------------------------------------------------------------------------
    def append(self, connection: Connection, events: Sequence[AuditEvent]) -> list[StoredEvent]:
        """Append `events` in `connection`'s transaction (call it last in that transaction)."""
        if not events:
            return []
        sql = _Statements.of(connection)
        # Plain driver calls on the transaction's own DB-API connection: these statements run
        # with every audited change, and the SQL layers above the driver cost more than running
        # them. Only our own statements and bound parameters go through this cursor.
        cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            stored = None
            if self._expected is not None:
                stored = self._after_expected(cursor, sql, self._expected, events)
            if stored is None:
                stored = self._after_head(cursor, sql, events)
        finally:
            cursor.close()
        self._expected = (stored[-1].seq, stored[-1].hash)
        return stored

    def _after_head(self, cursor: Any, sql: _Statements, events: Sequence[AuditEvent]) -> list[StoredEvent]:
        """Append after the head as it is: one statement both locks it and reads the position."""
        cursor.execute(sql.take_head, (len(events),))
        row = cursor.fetchone()
        if row is None:
            raise RuntimeError("the audit chain head is missing (run `greenroom db upgrade`)")
        stored = self._chain(events, int(row[0]) - len(events), str(row[1]))
        rows = [_ROW(s) for s in stored]
        mac, key_id = self._sign(stored[-1])
        if len(rows) == 1 and sql.insert_and_set_head is not None:
            cursor.execute(sql.insert_and_set_head, (*rows[0], stored[-1].hash, mac, key_id))
        else:
            _insert(cursor, sql, rows)
            cursor.execute(sql.set_head, (stored[-1].hash, mac, key_id))
        return stored

    @staticmethod
    def _chain(events: Sequence[AuditEvent], seq: int, prev: str) -> list[StoredEvent]:
        """The stored form of `events`, numbered and chained after (seq, prev)."""
        now_us = time.time_ns() // 1000
        stored: list[StoredEvent] = []
        for event in events:
            seq += 1
            record = StoredEvent.build(event, seq=seq, id=random_uuid(), time_us=now_us, prev_hash=prev)
            stored.append(record)
            prev = record.hash
        return stored

    def _sign(self, last: StoredEvent) -> tuple[str | None, str | None]:
        if self.signer is None:
            return None, None
        return self.signer.sign("head", last.seq, last.hash), self.signer.key_id

    def _after_expected(
        self, cursor: Any, sql: _Statements, expected: tuple[int, str], events: Sequence[AuditEvent]
    ) -> list[StoredEvent] | None:
        """Append after the expected head if it is still the head; None (and nothing written) if not."""
        stored = self._chain(events, *expected)
        last = stored[-1]
        mac, key_id = self._sign(last)
        moved = (last.seq, last.hash, mac, key_id, *expected)
        rows = [_ROW(s) for s in stored]
        if len(rows) == 1 and sql.move_head_and_insert is not None:
            cursor.execute(sql.move_head_and_insert, (*moved, *rows[0]))
            return stored if cursor.rowcount == 1 else None
        cursor.execute(sql.move_head, moved)
        if cursor.rowcount != 1:
            return None
        _insert(cursor, sql, rows)
        return stored

    def append_now(self, events: Sequence[AuditEvent]) -> list[StoredEvent]:
        """Append in a transaction of its own (for events that describe no database change)."""
        with self.database.engine.begin() as connection:
            return self.append(connection, events)

    # -- reading ----------------------------------------------------------------------------
    def head(self) -> tuple[int, str]:
        h = tables.head
        with self.database.engine.connect() as connection:
            row = connection.execute(select(h.c.seq, h.c.hash).where(h.c.id == 1)).first()
        return (int(row.seq), str(row.hash)) if row is not None else (0, GENESIS_HASH)

    def query(self, query: AuditQuery, *, limit: int = DEFAULT_PAGE, after_seq: int | None = None) -> AuditPage:
        limit = max(1, min(limit, MAX_PAGE))
        e = tables.events.c
        conditions = query.conditions()
        if after_seq is not None:
            conditions.append(e.seq < after_seq if query.order == "desc" else e.seq > after_seq)
        stmt = select(*_COLUMNS).where(and_(*conditions)) if conditions else select(*_COLUMNS)
        stmt = stmt.order_by(e.seq.desc() if query.order == "desc" else e.seq.asc()).limit(limit + 1)
        with self.database.engine.connect() as connection:
            rows = [StoredEvent.from_row(r) for r in connection.execute(stmt)]
        more = len(rows) > limit
        items = rows[:limit]
        cursor = encode_cursor(query, items[-1].seq) if more and items else None
        return AuditPage(items=items, next_cursor=cursor, limit=limit)

    def iterate(self, query: AuditQuery, *, batch: int = 1000) -> Iterator[StoredEvent]:
        """Every matching event, oldest first, read in batches."""
        ascending = AuditQuery(**{**asdict(query), "order": "asc"})
        after: int | None = None
        while True:
            page = self.query(ascending, limit=batch, after_seq=after)
            yield from page.items
            if page.next_cursor is None:
                return
            after = page.items[-1].seq

    def count(self) -> int:
        with self.database.engine.connect() as connection:
            return int(connection.execute(select(func.count()).select_from(tables.events)).scalar() or 0)

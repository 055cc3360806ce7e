"""Apply one location tree's result to the database in one transaction.

1. Load what the tree owns now (hash per entity) and find conflicts with other trees.
2. Diff by content hash: new, changed, unchanged, gone (orphaned or deleted), retained
   (its file failed to read, or its new version is invalid: the old version stays).
3. Replace the relations of new and changed entities; every source ref whose relation set
   moved is "affected".
4. Stitch the affected set as one operation: build each final entity (relations, uid,
   etag, orphan annotation, processing errors in `status.items`) and its search rows, and
   write only those whose final JSON changed.

A crash at any point before commit leaves the previous state as it was.
"""

from __future__ import annotations

import hashlib
import re
import threading
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import Connection, Table, bindparam, delete, func, select, update

from greenroom.db.engine import Database
from greenroom.plugins.catalog.processing.pipeline import Emitted, ProcessingError, TreeResult, compact_json
from greenroom.plugins.catalog.store import tables
from greenroom.plugins.catalog.store.search import search_rows

ORPHAN_ANNOTATION = "backstage.io/orphan"
# Entities stitched per round: each round holds its search rows (about 27 per entity) until they
# are written; 1000 keeps a 10k first load about 9 MB lower at its peak than 2000, no slower.
STITCH_CHUNK = 1000
CATALOG_WRITE_LOCK = 0x67726E63  # an arbitrary, fixed advisory-lock key for catalog writes
# On SQLite, inserting at least this many entities, and at least this share of the table,
# drops the search indexes and builds them again after the insert.
BULK_LOAD_MIN = 5000
# Trees of at least this many entities commit through Database.bulk (see is_big).
BULK_COMMIT_MIN = 1000
BULK_LOAD_SHARE = 0.5
PROCESSING_STATUS_TYPE = "backstage.io/catalog-processing"
CHUNK = 500


def is_big(result: TreeResult) -> bool:
    """A tree whose commit is written without SQLite's automatic checkpoint, with an explicit
    one after it (`Database.bulk`); smaller trees commit like any change."""
    return len(result.entities) >= BULK_COMMIT_MIN


def chunks(items: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


@dataclass
class ApplyStats:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    orphaned: int = 0
    deleted: int = 0
    stitched: int = 0
    conflicts: int = 0
    skipped: bool = False
    errors: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[dict[str, Any]] = field(default_factory=list)


_JAVASCRIPT_URL = re.compile(r"^[\x00-\x20]*j[\r\n\t]*a[\r\n\t]*v[\r\n\t]*a[\r\n\t]*s[\r\n\t]*c[\r\n\t]*r"
                             r"[\r\n\t]*i[\r\n\t]*p[\r\n\t]*t[\r\n\t]*:", re.IGNORECASE)
REJECTED_URL = "https://backstage.io/annotation-rejected-for-security-reasons"
_URL_ANNOTATIONS = ("backstage.io/view-url", "backstage.io/edit-url")


def _status_item(error: dict[str, Any]) -> dict[str, Any]:
    serialized = {"name": error.get("name", "Error"), "message": error.get("message", "")}
    if error.get("cause"):
        serialized["cause"] = error["cause"]
    return {
        "type": PROCESSING_STATUS_TYPE,
        "level": "error",
        "message": f"{serialized['name']}: {serialized['message']}",
        "error": serialized,
    }


@dataclass
class _Plan:
    """What one apply will write, by entity ref key."""

    origin_key: str | None
    now: datetime
    inserts: dict[str, Emitted] = field(default_factory=dict)
    changes: dict[str, tuple[int, str, Emitted]] = field(default_factory=dict)  # pk, uid, new version
    status: dict[str, tuple[bool, str | None]] = field(default_factory=dict)  # orphan, errors json
    new_ids: dict[str, tuple[int, str]] = field(default_factory=dict)  # pk, uid
    # relations emitted by new entities, by source ref: the stitch needs them and need not
    # read back what it has just written
    new_relations: dict[str, list[tuple[str, str]]] = field(default_factory=lambda: defaultdict(list))
    new_pk_range: tuple[int, int] | None = None
    relations_in_db: bool = True  # whether relations written before this batch may exist


def _etag_of(entity: dict[str, Any]) -> str:
    return hashlib.sha1(  # noqa: S324 - Backstage's etag algorithm, not a security hash
        orjson.dumps(entity, option=orjson.OPT_SORT_KEYS)
    ).hexdigest()


def unstitch(final: dict[str, Any], *, orphan: bool) -> dict[str, Any]:
    """The processed entity a stored final entity was stitched from.

    The catalog keeps only the final JSON; what stitching adds (relations, status, uid, the
    orphan annotation, a computed etag) is removed again. An etag that is not the hash of
    the content was the source's own, and stays.
    """
    entity = {k: v for k, v in final.items() if k not in ("relations", "status")}
    metadata = dict(entity["metadata"])
    etag = metadata.pop("etag", None)
    probe = {**final, "metadata": {k: v for k, v in final["metadata"].items() if k != "etag"}}
    metadata.pop("uid", None)
    if orphan and isinstance(metadata.get("annotations"), dict):
        annotations = dict(metadata["annotations"])
        annotations.pop(ORPHAN_ANNOTATION, None)
        metadata["annotations"] = annotations
    if etag is not None and etag != _etag_of(probe):
        metadata["etag"] = etag
    entity["metadata"] = metadata
    return entity


def stitch(
    processed: dict[str, Any],
    *,
    uid: str,
    relations: Iterable[tuple[str, str]],
    errors: Sequence[dict[str, Any]] | None,
    orphan: bool,
) -> tuple[dict[str, Any], bytes, str]:
    """The final entity served by the API, and its etag.

    As Backstage: relations are distinct and sorted by (type, target); the orphan annotation
    goes last; processing errors become `status.items`; a `javascript:` view/edit URL is
    replaced; the etag is the SHA-1 of the key-sorted entity (uid included, etag excluded),
    unless the source gave its own etag, which is kept.
    """
    metadata = dict(processed["metadata"])
    supplied_etag = metadata.pop("etag", None)
    metadata.pop("uid", None)
    annotations = dict(metadata.get("annotations") or {})
    for key in _URL_ANNOTATIONS:
        value = annotations.get(key)
        if isinstance(value, str) and _JAVASCRIPT_URL.match(value):
            annotations[key] = REJECTED_URL
    if orphan:
        annotations[ORPHAN_ANNOTATION] = "true"
    if annotations:
        metadata["annotations"] = annotations
    metadata["uid"] = uid
    entity: dict[str, Any] = {**processed, "metadata": metadata}
    entity["relations"] = [{"type": t, "targetRef": target} for t, target in sorted(set(relations))]
    if errors:
        entity["status"] = {"items": [_status_item(e) for e in errors]}
    etag = supplied_etag or _etag_of(entity)
    metadata["etag"] = etag
    return entity, compact_json(entity), etag


class BulkWriter:
    """Fast multi-row writes: executemany on SQLite, COPY on PostgreSQL."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.postgres = connection.dialect.name == "postgresql"
        self.sqlite = connection.dialect.name == "sqlite"

    def insert(self, table: Table, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]) -> None:
        if not rows:
            return
        raw = self.connection.connection.driver_connection
        assert raw is not None
        if self.postgres:
            cursor = raw.cursor()
            with cursor.copy(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            return
        placeholders = ", ".join("?" for _ in columns)
        cursor = raw.cursor()
        # Table and column names come from our own Table objects, never from input.
        statement = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({placeholders})"  # noqa: S608
        cursor.executemany(statement, rows)

    def delete_in(self, table: Table, column: str, values: Sequence[Any]) -> None:
        col = table.c[column]
        for part in chunks(list(values)):
            self.connection.execute(delete(table).where(col.in_(part)))


# SQLite allows one writer at a time; in one process we queue writers instead of letting
# them fail with "database is locked" under load.
_SQLITE_WRITE_LOCK = threading.Lock()


def _descendants(parents: set[str], existing: dict[str, Any], incoming: dict[str, Any]) -> set[str]:
    """Stored entities below Location entities whose read failed (through ones not re-read)."""
    children: dict[str, list[str]] = defaultdict(list)
    for key, row in existing.items():
        if key not in incoming and row.parent_ref:
            children[row.parent_ref].append(key)
    found: set[str] = set()
    frontier = list(parents)
    while frontier:
        for child in children.get(frontier.pop(), ()):
            if child not in found:
                found.add(child)
                frontier.append(child)
    return found


class CatalogWriter:
    def __init__(self, database: Database, *, orphan_strategy: str = "keep") -> None:
        self.database = database
        self.orphan_strategy = orphan_strategy

    def lock(self) -> Any:
        """Serialises writers on SQLite (one writer at a time); a no-op on PostgreSQL."""
        if self.database.is_sqlite:
            return _SQLITE_WRITE_LOCK
        return _NullLock()

    def apply(
        self,
        result: TreeResult,
        *,
        inputs: list[tuple[str, str]] | None = None,
        audit: Callable[[Connection, ApplyStats], None] | None = None,
        before: Callable[[Connection], None] | None = None,
    ) -> ApplyStats:
        """`before` runs first in the transaction (a location row that comes or goes with its tree);
        `audit` records the batch's audit event last in it (one per tree)."""
        big = is_big(result)
        with self.lock(), (self.database.bulk() if big else self.database.engine.begin()) as connection:
            self._lock_in_database(connection)
            if before is not None:
                before(connection)
            stats = self._apply(connection, result, inputs or [])
            if audit is not None:
                audit(connection, stats)
            return stats

    @staticmethod
    def _lock_in_database(connection: Connection) -> None:
        """One catalog writer at a time across processes (PostgreSQL; SQLite locks the file)."""
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql("SELECT pg_advisory_xact_lock(%(key)s)", {"key": CATALOG_WRITE_LOCK})

    def restitch(self, refs: set[str]) -> int:
        """Rebuild the final entities of `refs` (after a change outside any tree)."""
        if not refs:
            return 0
        with self.lock(), self.database.engine.begin() as connection:
            self._lock_in_database(connection)
            plan = _Plan(origin_key=None, now=datetime.now(UTC))
            return self._stitch(connection, BulkWriter(connection), refs, plan)

    def _new_pks(self, connection: Connection, count: int) -> list[int]:
        if count == 0:
            return []
        e = tables.entities
        if connection.dialect.name == "postgresql":
            rows = connection.exec_driver_sql(
                "SELECT nextval(pg_get_serial_sequence('catalog_entities', 'pk')) FROM generate_series(1, %(n)s)",
                {"n": count},
            )
            return [int(r[0]) for r in rows]
        start = int(connection.execute(select(func.coalesce(func.max(e.c.pk), 0))).scalar() or 0)
        return list(range(start + 1, start + 1 + count))

    def _apply(self, connection: Connection, result: TreeResult, inputs: list[tuple[str, str]]) -> ApplyStats:
        plan = _Plan(origin_key=result.origin.key, now=datetime.now(UTC))
        stats = ApplyStats()
        writer = BulkWriter(connection)
        e, r = tables.entities, tables.relations
        existing = {
            row.ref: row
            for row in connection.execute(
                select(e.c.pk, e.c.id, e.c.ref, e.c.hash, e.c.location_key, e.c.orphan, e.c.errors,
                       e.c.parent_ref).where(e.c.origin_key == plan.origin_key)
            )
        }
        incoming = dict(result.entities)
        errors = list(result.errors)
        warnings = list(result.warnings)

        # Conflicts: an entity another tree already owns stays with that tree.
        new_keys = [k for k in incoming if k not in existing]
        for part in chunks(new_keys):
            for owned in connection.execute(select(e.c.ref, e.c.origin_key).where(e.c.ref.in_(part))):
                emitted = incoming.pop(owned.ref)
                stats.conflicts += 1
                warnings.append(
                    ProcessingError(
                        emitted.location_key,
                        f"Detected conflicting entityRef {owned.ref} already referenced by {owned.origin_key} "
                        f"and now also {emitted.location_key}",
                        "ConflictError",
                        entity_ref=owned.ref,
                    )
                )

        failed_refs = {k: [error.to_json() for error in v] for k, v in result.failed_refs.items()}
        protected = _descendants(result.failed_parents, existing, incoming)
        removals: list[str] = []
        row: Any
        for key, emitted in incoming.items():
            row = existing.get(key)
            if row is None:
                plan.inserts[key] = emitted
            elif row.hash != emitted.hash:
                plan.changes[key] = (row.pk, row.id, emitted)
            elif row.orphan or row.errors:
                plan.status[key] = (False, None)
            else:
                stats.unchanged += 1
        for key, row in existing.items():
            if key in incoming:
                continue
            if key in failed_refs:
                err = orjson.dumps(failed_refs[key]).decode()
                if row.errors != err:
                    plan.status[key] = (bool(row.orphan), err)
                continue
            if result.partial or key in protected:
                continue  # its parent could not be read this time: it stays as it was
            if self.orphan_strategy == "delete":
                removals.append(key)
            elif not row.orphan:
                plan.status[key] = (True, row.errors)
                stats.orphaned += 1

        for key, pk in zip(plan.inserts, self._new_pks(connection, len(plan.inserts)), strict=True):
            plan.new_ids[key] = (pk, str(uuid.uuid4()))
        if plan.new_ids:
            pks = [pk for pk, _ in plan.new_ids.values()]
            plan.new_pk_range = (min(pks), max(pks))

        affected: set[str] = set()
        replaced = [pk for pk, _, _ in plan.changes.values()] + [existing[k].pk for k in removals]
        for part in chunks(replaced):
            affected.update(
                row.source_ref for row in connection.execute(select(r.c.source_ref).where(r.c.originating_pk.in_(part)))
            )
        writer.delete_in(r, "originating_pk", replaced)
        relation_rows: list[tuple[int, str, str, str]] = []
        for key, emitted in plan.inserts.items():
            pk = plan.new_ids[key][0]
            relation_rows.extend((pk, source, rel_type, target) for source, rel_type, target in emitted.relations)
            for source, rel_type, target in emitted.relations:
                plan.new_relations[source].append((rel_type, target))
        for pk, _, emitted in plan.changes.values():
            relation_rows.extend((pk, source, rel_type, target) for source, rel_type, target in emitted.relations)
            for source, rel_type, target in emitted.relations:  # may also be read back: the stitch dedupes
                plan.new_relations[source].append((rel_type, target))
        affected.update(row[1] for row in relation_rows)
        affected.update(plan.inserts, plan.changes, plan.status)
        affected.difference_update(removals)

        # Every delete first, while the indexes they use exist.
        if removals:
            removed = [existing[k].pk for k in removals]
            writer.delete_in(tables.search, "entity_pk", removed)
            writer.delete_in(tables.documents, "entity_pk", removed)
            writer.delete_in(e, "pk", removed)
            stats.deleted = len(removals)
        old_pks: list[int] = []
        for part in chunks([k for k in sorted(affected) if k not in plan.inserts]):
            old_pks.extend(pk for (pk,) in connection.execute(select(e.c.pk).where(e.c.ref.in_(part))))
        writer.delete_in(tables.search, "entity_pk", old_pks)  # the stitch rebuilds them
        plan.relations_in_db = connection.execute(select(r.c.originating_pk).limit(1)).first() is not None

        # Filling most of a table: building its indexes once at the end is about twice as
        # fast as maintaining them row by row. On SQLite readers keep their snapshot
        # meanwhile; on PostgreSQL dropping an index locks readers out until the commit, so
        # there it is done only for a first load into an empty catalog.
        rebuild: list[Any] = []
        before = self._entity_count(connection)
        if len(plan.inserts) >= BULK_LOAD_MIN and (
            (writer.sqlite and len(plan.inserts) >= (before + len(plan.inserts)) * BULK_LOAD_SHARE)
            or (writer.postgres and before == 0)
        ):
            rebuild.extend(tables.search.indexes)
            if not plan.relations_in_db:  # nothing to look up in relations until the end
                rebuild.extend(r.indexes)
            if writer.postgres:
                connection.exec_driver_sql("SET LOCAL maintenance_work_mem = '256MB'")
        for index in rebuild:
            index.drop(connection)
        writer.insert(r, ("originating_pk", "source_ref", "type", "target_ref"), relation_rows)
        stats.stitched = self._stitch(connection, writer, affected, plan)
        for index in rebuild:
            index.create(connection)
        stats.inserted = len(plan.inserts)
        stats.updated = len(plan.changes)
        self._record_status(connection, result, errors, warnings, inputs, plan.now)
        stats.errors = [err.to_json() for err in errors]
        stats.warnings = [w.to_json() for w in warnings]
        return stats

    def _stitch(self, connection: Connection, writer: BulkWriter, affected: set[str], plan: _Plan) -> int:
        """Rebuild the final entity and search rows of every affected ref, in bounded chunks.

        The caller has deleted the search rows of the existing affected entities.
        """
        stitched = 0
        for part in chunks(sorted(affected), STITCH_CHUNK):
            stitched += self._stitch_chunk(connection, writer, list(part), plan)
        return stitched

    @staticmethod
    def _entity_count(connection: Connection) -> int:
        return int(connection.execute(select(func.count()).select_from(tables.entities)).scalar() or 0)

    def _stitch_chunk(self, connection: Connection, writer: BulkWriter, refs: list[str], plan: _Plan) -> int:
        e, r = tables.entities, tables.relations
        load = [k for k in refs if k not in plan.inserts and k not in plan.changes]
        d = tables.documents
        stored = {
            row.ref: row
            for part in chunks(load)
            for row in connection.execute(
                select(e.c.pk, e.c.id, e.c.ref, d.c.final, e.c.orphan, e.c.errors, e.c.etag)
                .join_from(e, d, d.c.entity_pk == e.c.pk)
                .where(e.c.ref.in_(part))
            )
        }
        relations: dict[str, list[tuple[str, str]]] = defaultdict(list)
        # Only refs that exist are stitched: a relation may point at an entity that is not in
        # the catalog (an owner group never registered), whose incoming rows can be many.
        present = [k for k in refs if k in plan.inserts or k in plan.changes or k in stored]
        if plan.relations_in_db and present:
            stmt = select(r.c.source_ref, r.c.type, r.c.target_ref).where(r.c.source_ref.in_(present))
            if plan.new_pk_range is not None:
                # New entities' relations are in memory; read only the others. Writers hold the
                # catalog write lock, so nobody else's rows fall inside this batch's pk range.
                stmt = stmt.where(~r.c.originating_pk.between(*plan.new_pk_range))
            for rel in connection.execute(stmt):
                relations[rel.source_ref].append((rel.type, rel.target_ref))
        for ref in refs:
            if ref in plan.new_relations:
                relations[ref].extend(plan.new_relations[ref])
        new_documents: list[tuple[int, bytes]] = []
        changed_documents: list[dict[str, Any]] = []
        new_rows: list[tuple[Any, ...]] = []
        content: list[dict[str, Any]] = []
        status_only: list[dict[str, Any]] = []
        search_batch: list[tuple[int, str, str | None, str | None]] = []
        stitched = 0
        row: Any
        for key in refs:
            emitted: Emitted | None = None
            if key in plan.inserts:
                emitted = plan.inserts[key]
                pk, uid = plan.new_ids[key]
                orphan, errors_json = False, None
            elif key in plan.changes:
                pk, uid, emitted = plan.changes[key]
                orphan, errors_json = False, None
            elif key in stored:
                row = stored[key]
                pk, uid = row.pk, row.id
                orphan, errors_json = bool(row.orphan), row.errors
                processed = unstitch(orjson.loads(row.final), orphan=orphan)
                if key in plan.status:
                    orphan, errors_json = plan.status[key]
            else:
                continue  # a relation points at an entity that does not exist (yet)
            if emitted is not None:
                processed = orjson.loads(emitted.body)
            final_entity, final, etag = stitch(
                processed,
                uid=uid,
                relations=relations.get(key, ()),
                errors=orjson.loads(errors_json) if errors_json else None,
                orphan=orphan,
            )
            search_batch.extend(search_rows(pk, final_entity))
            if key in plan.inserts:
                assert emitted is not None
                new_rows.append(
                    (pk, uid, key, emitted.kind, emitted.namespace, emitted.name, emitted.location_key,
                     plan.origin_key, emitted.parent, emitted.hash, etag, False, None, plan.now, plan.now)
                )
                new_documents.append((pk, final))
            elif emitted is not None:
                content.append({
                    "b_pk": pk, "etag": etag, "updated_at": plan.now, "hash": emitted.hash,
                    "location_key": emitted.location_key, "parent_ref": emitted.parent, "orphan": False, "errors": None,
                })
                changed_documents.append({"b_pk": pk, "final": final})
            elif key in plan.status or stored[key].etag != etag:
                status_only.append({"b_pk": pk, "etag": etag, "updated_at": plan.now,
                                    "orphan": orphan, "errors": errors_json})
                changed_documents.append({"b_pk": pk, "final": final})
            else:
                continue  # nothing visible changed (its search rows were rebuilt all the same)
            stitched += 1
        writer.insert(
            e,
            ("pk", "id", "ref", "kind", "namespace", "name", "location_key", "origin_key", "parent_ref", "hash",
             "etag", "orphan", "errors", "created_at", "updated_at"),
            new_rows,
        )
        writer.insert(d, ("entity_pk", "final"), new_documents)
        if changed_documents:
            connection.execute(
                update(d).where(d.c.entity_pk == bindparam("b_pk")).values(final=bindparam("final")), changed_documents
            )
        common: dict[str, Any] = {name: bindparam(name) for name in ("etag", "updated_at", "orphan", "errors")}
        if content:
            connection.execute(
                update(e).where(e.c.pk == bindparam("b_pk")).values(
                    **common, hash=bindparam("hash"), location_key=bindparam("location_key"),
                    parent_ref=bindparam("parent_ref"),
                ),
                content,
            )
        if status_only:
            connection.execute(update(e).where(e.c.pk == bindparam("b_pk")).values(**common), status_only)
        writer.insert(tables.search, ("entity_pk", "key", "value", "original_value"), search_batch)
        return stitched

    def _record_status(
        self,
        connection: Connection,
        result: TreeResult,
        errors: list[ProcessingError],
        warnings: list[ProcessingError],
        inputs: list[tuple[str, str]],
        now: datetime,
    ) -> None:
        s = tables.location_status
        key = result.origin.key
        values = {
            "entity_count": len(result.entities),
            "errors": orjson.dumps([err.to_json() for err in errors]).decode() if errors else None,
            "warnings": orjson.dumps([w.to_json() for w in warnings]).decode() if warnings else None,
            "inputs": orjson.dumps(inputs).decode() if inputs else None,
            "last_run_at": now,
            "duration_ms": int(result.duration_s * 1000),
        }
        if not errors:
            values["last_success_at"] = now
        updated = connection.execute(update(s).where(s.c.location_key == key).values(**values))
        if updated.rowcount == 0:
            connection.execute(s.insert().values(location_key=key, **values))


class _NullLock:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *_exc: object) -> None:
        return None

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
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import Connection, Table, delete, select, update

from greenroom.db.engine import Database
from greenroom.plugins.catalog.processing.pipeline import ProcessingError, TreeResult
from greenroom.plugins.catalog.store import tables
from greenroom.plugins.catalog.store.search import search_rows

ORPHAN_ANNOTATION = "backstage.io/orphan"
PROCESSING_STATUS_TYPE = "backstage.io/catalog-processing"
CHUNK = 500


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


def stitch(
    processed: dict[str, Any],
    *,
    uid: str,
    relations: Iterable[tuple[str, str]],
    errors: Sequence[dict[str, Any]] | None,
    orphan: bool,
) -> tuple[bytes, str]:
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
    etag = supplied_etag or hashlib.sha1(  # noqa: S324 - Backstage's etag algorithm, not a security hash
        orjson.dumps(entity, option=orjson.OPT_SORT_KEYS)
    ).hexdigest()
    metadata["etag"] = etag
    return orjson.dumps(entity), etag


class BulkWriter:
    """Fast multi-row writes: executemany on SQLite, COPY on PostgreSQL."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.postgres = connection.dialect.name == "postgresql"

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
        cursor.executemany(f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({placeholders})", rows)

    def delete_in(self, table: Table, column: str, values: Sequence[Any]) -> None:
        col = table.c[column]
        for part in chunks(list(values)):
            self.connection.execute(delete(table).where(col.in_(part)))


# SQLite allows one writer at a time; in one process we queue writers instead of letting
# them fail with "database is locked" under load.
_SQLITE_WRITE_LOCK = threading.Lock()


class CatalogWriter:
    def __init__(self, database: Database, *, orphan_strategy: str = "keep") -> None:
        self.database = database
        self.orphan_strategy = orphan_strategy

    def lock(self) -> Any:
        """Serialises writers on SQLite (one writer at a time); a no-op on PostgreSQL."""
        if self.database.is_sqlite:
            return _SQLITE_WRITE_LOCK
        return _NullLock()

    def apply(self, result: TreeResult, *, inputs: list[tuple[str, str]] | None = None) -> ApplyStats:
        with self.lock(), self.database.engine.begin() as connection:
            return self._apply(connection, result, inputs or [])

    def restitch(self, refs: set[str]) -> int:
        """Rebuild the final entities of `refs` (after a change outside any tree)."""
        if not refs:
            return 0
        with self.lock(), self.database.engine.begin() as connection:
            return self._stitch(
                connection, BulkWriter(connection), refs, incoming={}, new_keys=set(), changed=set(), ids={},
                status_changes={}, origin_key=None, now=datetime.now(UTC),
            )

    def _apply(self, connection: Connection, result: TreeResult, inputs: list[tuple[str, str]]) -> ApplyStats:
        now = datetime.now(UTC)
        stats = ApplyStats()
        writer = BulkWriter(connection)
        origin_key = result.origin.key
        e = tables.entities
        existing = {
            row.ref: row
            for row in connection.execute(
                select(e.c.id, e.c.ref, e.c.hash, e.c.location_key, e.c.orphan, e.c.errors).where(
                    e.c.origin_key == origin_key
                )
            )
        }
        incoming = dict(result.entities)
        errors = list(result.errors)
        warnings = list(result.warnings)

        # Conflicts: an entity another tree already owns stays with that tree.
        new_keys = [k for k in incoming if k not in existing]
        for part in chunks(new_keys):
            for row in connection.execute(select(e.c.ref, e.c.origin_key).where(e.c.ref.in_(part))):
                emitted = incoming.pop(row.ref)
                stats.conflicts += 1
                warnings.append(
                    ProcessingError(
                        emitted.location_key,
                        f"Detected conflicting entityRef {emitted.entity['kind'].lower()}:"
                        f"{emitted.entity['metadata'].get('namespace', 'default')}/"
                        f"{emitted.entity['metadata']['name']} already referenced by {row.origin_key} "
                        f"and now also {emitted.location_key}",
                        "ConflictError",
                        entity_ref=row.ref,
                    )
                )

        failed_refs = {k: v.to_json() for k, v in result.failed_refs.items()}
        inserts: list[str] = []
        changes: list[str] = []
        status_changes: dict[str, tuple[bool, str | None]] = {}  # ref -> (orphan, errors json)
        removals: list[str] = []
        for key, emitted in incoming.items():
            row = existing.get(key)
            if row is None:
                inserts.append(key)
            elif row.hash != emitted.hash:
                changes.append(key)
            elif row.orphan or row.errors:
                status_changes[key] = (False, None)
            else:
                stats.unchanged += 1
        for key, row in existing.items():
            if key in incoming:
                continue
            if key in failed_refs:
                err = orjson.dumps([failed_refs[key]]).decode()
                if row.errors != err:
                    status_changes[key] = (bool(row.orphan), err)
                continue
            if result.partial:
                continue  # part of the tree failed to read: keep everything it held before
            if self.orphan_strategy == "delete":
                removals.append(key)
            elif not row.orphan:
                status_changes[key] = (True, row.errors)
                stats.orphaned += 1

        affected: set[str] = set()
        r = tables.relations
        changed_ids = [existing[k].id for k in changes] + [existing[k].id for k in removals]
        for part in chunks(changed_ids):
            for rel in connection.execute(select(r.c.source_ref).where(r.c.originating_entity_id.in_(part))):
                affected.add(rel.source_ref)
        writer.delete_in(r, "originating_entity_id", changed_ids)
        ids = {k: existing[k].id for k in changes}
        ids.update({k: str(uuid.uuid4()) for k in inserts})
        relation_rows: list[tuple[str, str, str, str]] = []
        for key in (*inserts, *changes):
            entity_id = ids[key]
            for source, rel_type, target in incoming[key].relations:
                source_key = source.lower()
                relation_rows.append((entity_id, source_key, rel_type, target))
                affected.add(source_key)
        writer.insert(r, ("originating_entity_id", "source_ref", "type", "target_ref"), relation_rows)

        if removals:
            removed_ids = [existing[k].id for k in removals]
            writer.delete_in(tables.search, "entity_id", removed_ids)
            writer.delete_in(e, "id", removed_ids)
            stats.deleted = len(removals)

        affected.update(inserts, changes, status_changes)
        affected.difference_update(removals)
        stats.stitched = self._stitch(
            connection,
            writer,
            affected,
            incoming=incoming,
            new_keys=set(inserts),
            changed=set(changes),
            ids=ids,
            status_changes=status_changes,
            origin_key=origin_key,
            now=now,
        )
        stats.inserted = len(inserts)
        stats.updated = len(changes)
        self._record_status(connection, result, errors, warnings, inputs, now)
        stats.errors = [err.to_json() for err in errors]
        stats.warnings = [w.to_json() for w in warnings]
        return stats

    def _stitch(
        self,
        connection: Connection,
        writer: BulkWriter,
        affected: set[str],
        *,
        incoming: dict[str, Any],
        new_keys: set[str],
        changed: set[str],
        ids: dict[str, str],
        status_changes: dict[str, tuple[bool, str | None]],
        origin_key: str | None,
        now: datetime,
    ) -> int:
        e, r = tables.entities, tables.relations
        refs = sorted(affected)
        relations: dict[str, list[tuple[str, str]]] = defaultdict(list)
        for part in chunks(refs):
            for row in connection.execute(
                select(r.c.source_ref, r.c.type, r.c.target_ref).where(r.c.source_ref.in_(part))
            ):
                relations[row.source_ref].append((row.type, row.target_ref))

        stored: dict[str, Any] = {}
        load = [k for k in refs if k not in new_keys and k not in changed]
        for part in chunks(load):
            for row in connection.execute(
                select(e.c.id, e.c.ref, e.c.processed, e.c.orphan, e.c.errors, e.c.etag).where(e.c.ref.in_(part))
            ):
                stored[row.ref] = row
        for key in changed:
            row = connection.execute(select(e.c.orphan, e.c.errors).where(e.c.id == ids[key])).one()
            stored[key] = row

        new_rows: list[tuple[Any, ...]] = []
        search_ids: list[str] = []
        search_batch: list[tuple[str, str, str | None, str | None]] = []
        stitched = 0
        for key in refs:
            if key in new_keys or key in changed:
                emitted = incoming[key]
                processed, body, digest = emitted.entity, emitted.body, emitted.hash
                entity_id = ids[key]
                orphan, errors_json = False, None
            elif key in stored:
                row = stored[key]
                processed = orjson.loads(row.processed)
                body, digest, entity_id = None, None, row.id
                orphan, errors_json = bool(row.orphan), row.errors
                if key in status_changes:
                    orphan, errors_json = status_changes[key]
            else:
                continue  # a relation points at an entity that does not exist (yet)
            error_list = orjson.loads(errors_json) if errors_json else None
            final, etag = stitch(
                processed, uid=entity_id, relations=relations.get(key, ()), errors=error_list, orphan=orphan
            )
            if key in new_keys:
                meta = processed["metadata"]
                new_rows.append(
                    (
                        entity_id,
                        key,
                        processed["kind"],
                        meta.get("namespace", "default"),
                        meta["name"],
                        incoming[key].location_key,
                        origin_key,
                        incoming[key].parent,
                        digest,
                        etag,
                        False,
                        None,
                        body,
                        final,
                        now,
                        now,
                    )
                )
            else:
                if key not in changed and key not in status_changes and stored[key].etag == etag:
                    continue  # nothing visible changed
                values: dict[str, Any] = {"final": final, "etag": etag, "updated_at": now}
                if key in changed:
                    values.update(
                        processed=body,
                        hash=digest,
                        location_key=incoming[key].location_key,
                        parent_ref=incoming[key].parent,
                        orphan=False,
                        errors=None,
                    )
                elif key in status_changes:
                    values.update(orphan=orphan, errors=errors_json)
                connection.execute(update(e).where(e.c.id == entity_id).values(**values))
                search_ids.append(entity_id)
            stitched += 1
            search_batch.extend(search_rows(entity_id, orjson.loads(final)))
        writer.insert(
            e,
            (
                "id", "ref", "kind", "namespace", "name", "location_key", "origin_key", "parent_ref", "hash", "etag",
                "orphan", "errors", "processed", "final", "created_at", "updated_at",
            ),
            new_rows,
        )
        writer.delete_in(tables.search, "entity_id", search_ids)
        writer.insert(tables.search, ("entity_id", "key", "value", "original_value"), search_batch)
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

"""Ingestion orchestration: which trees to read, when, and whether anything changed.

A tree is skipped ("hash and skip") when every input it read last time (files, URLs,
placeholder targets, glob listings) still has the same SHA-256 and the last run had no
errors: re-reading bytes costs a fraction of parsing, validating and diffing them.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

import orjson
from sqlalchemy import Connection, select

from greenroom.audit import Operation
from greenroom.db.engine import Database
from greenroom.errors import GreenroomError
from greenroom.plugins.catalog.metrics import INGEST_DURATION, INGEST_ENTITIES, INGEST_RUNS
from greenroom.plugins.catalog.processing.locations import (
    DEFAULT_MAX_FILE_BYTES,
    LocationSpec,
    expand_file_glob,
    read_file,
)
from greenroom.plugins.catalog.processing.pipeline import TreeReader, TreeResult
from greenroom.plugins.catalog.processing.rules import RulesEnforcer
from greenroom.plugins.catalog.store import tables
from greenroom.plugins.catalog.store.writer import ApplyStats, CatalogWriter, is_big

# After an ingestion that changed at least this many entities, PostgreSQL's statistics of the
# catalog tables are refreshed at once (Database.refresh_statistics), not whenever autovacuum runs.
ANALYZE_AFTER_ROWS = 2000
ANALYZED_TABLES = (tables.entities, tables.search, tables.relations, tables.documents)

log = logging.getLogger("greenroom.plugins.catalog")


class RecordingReader:
    """Wraps file and URL reads so a tree remembers the digest of everything it read."""

    def __init__(self, read_url: Callable[[str], bytes]) -> None:
        self._read_url = read_url
        self.inputs: dict[str, str] = {}

    def read_url(self, url: str) -> bytes:
        data = self._read_url(url)
        self.inputs[f"url:{url}"] = hashlib.sha256(data).hexdigest()
        return data

    def record_file(self, key: str, data: bytes) -> None:
        self.inputs[key] = hashlib.sha256(data).hexdigest()


class Ingestor:
    def __init__(
        self,
        *,
        database: Database,
        rules: RulesEnforcer,
        read_url: Callable[[str], bytes],
        orphan_strategy: str = "keep",
        max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
    ) -> None:
        self.database = database
        self.max_file_bytes = max_file_bytes
        self.rules = rules
        self.read_url = read_url
        self.writer = CatalogWriter(database, orphan_strategy=orphan_strategy)
        self._lock = threading.Lock()
        # Records one audit event per applied tree, in its transaction (set by the service).
        self.record_batch: Callable[[Connection, LocationSpec, ApplyStats, Operation | None], None] | None = None

    def reader(
        self, recorder: RecordingReader | None = None, progress: Callable[[int], None] | None = None
    ) -> TreeReader:
        read_url = recorder.read_url if recorder else self.read_url
        on_file = recorder.record_file if recorder else None
        return TreeReader(rules=self.rules, read_url=read_url, progress=progress, on_file=on_file,
                          max_file_bytes=self.max_file_bytes)

    def read_tree(self, spec: LocationSpec, progress: Callable[[int], None] | None = None) -> TreeResult:
        return self.reader(progress=progress).read(spec)

    def _unchanged(self, spec: LocationSpec) -> bool:
        s = tables.location_status
        with self.database.engine.connect() as connection:
            row = connection.execute(select(s.c.inputs, s.c.errors).where(s.c.location_key == spec.key)).first()
        if row is None or row.errors or not row.inputs:
            return False
        root_dir = Path(spec.target).parent if spec.type == "file" else None
        for key, digest in orjson.loads(row.inputs):
            try:
                current = self._digest(key, root_dir)
            except GreenroomError:
                return False
            if current != digest:
                return False
        return True

    def _digest(self, key: str, root_dir: Path | None) -> str:
        kind, _, target = key.partition(":")
        if kind == "file":
            assert root_dir is not None
            return hashlib.sha256(read_file(LocationSpec("file", target), root_dir, self.max_file_bytes)).hexdigest()
        if kind == "glob":
            assert root_dir is not None
            matches = expand_file_glob(LocationSpec("file", target), root_dir)
            return hashlib.sha256("\n".join(m.target for m in matches).encode()).hexdigest()
        return hashlib.sha256(self.read_url(target)).hexdigest()

    def ingest(
        self,
        spec: LocationSpec,
        *,
        force: bool = False,
        progress: Callable[[int], None] | None = None,
        cause: Operation | None = None,
        before_write: Callable[[Connection], None] | None = None,
    ) -> ApplyStats:
        """Read `spec`'s tree and apply it, unless nothing it read has changed.

        `cause` is the audited request that asked for it (its actor owns the batch's event);
        `before_write` runs first in the write transaction."""
        with self._lock:
            started = time.perf_counter()
            if not force and self._unchanged(spec):
                INGEST_RUNS.labels("unchanged").inc()
                return ApplyStats(skipped=True)
            recorder = RecordingReader(self.read_url)
            result = self.reader(recorder, progress).read(spec)
            stats = self.writer.apply(result, inputs=sorted(recorder.inputs.items()), audit=self._audit(spec, cause),
                                      before=before_write)
            if is_big(result):  # small trees leave it to SQLite's automatic checkpoints
                self.database.checkpoint()
            if stats.inserted + stats.updated + stats.deleted + stats.orphaned >= ANALYZE_AFTER_ROWS:
                self.database.refresh_statistics([t.name for t in ANALYZED_TABLES])
            INGEST_DURATION.observe(time.perf_counter() - started)
            INGEST_RUNS.labels("errors" if stats.errors else "ok").inc()
            INGEST_ENTITIES.labels("inserted").inc(stats.inserted)
            INGEST_ENTITIES.labels("updated").inc(stats.updated)
            INGEST_ENTITIES.labels("orphaned").inc(stats.orphaned)
            log.info(
                "location ingested",
                extra={
                    "location": spec.key,
                    "entities": len(result.entities),
                    "inserted": stats.inserted,
                    "updated": stats.updated,
                    "orphaned": stats.orphaned,
                    "errors": len(stats.errors),
                    "duration_ms": round((time.perf_counter() - started) * 1000),
                },
            )
            return stats

    def _audit(self, spec: LocationSpec, cause: Operation | None) -> Callable[[Connection, ApplyStats], None] | None:
        record = self.record_batch
        if record is None:
            return None
        return lambda connection, stats: record(connection, spec, stats, cause)

    def forget(self, spec: LocationSpec) -> ApplyStats:
        """The tree is gone (location unregistered): its entities become orphans (or go)."""
        with self._lock:
            return self.writer.apply(TreeResult(origin=spec))

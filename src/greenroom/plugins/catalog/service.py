"""The catalog service: what routes, the CLI and other plugins (through `CATALOG`) call."""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import ColumnElement, Connection, delete, func, select, update

from greenroom.audit import SYSTEM_ACTOR, AuditEvent, Operation, PluginAuditor
from greenroom.db.engine import Database
from greenroom.errors import ConflictError, InputError, NotAllowedError, NotFoundError
from greenroom.plugins.catalog.config import CatalogConfig, dump_rules, refresh_interval_seconds
from greenroom.plugins.catalog.ingest import Ingestor
from greenroom.plugins.catalog.processing.locations import LocationSpec, normalize_root
from greenroom.plugins.catalog.processing.pipeline import (
    TreeResult,
    generated_location_ref,
    validate_document,
)
from greenroom.plugins.catalog.processing.rules import RulesEnforcer
from greenroom.plugins.catalog.store import tables
from greenroom.plugins.catalog.store.queries import CatalogQueries
from greenroom.plugins.catalog.store.writer import ApplyStats, CatalogWriter, chunks

log = logging.getLogger("greenroom.plugins.catalog")
API_LOCATION_TYPES = ("url",)


@dataclass(frozen=True)
class Location:
    id: str
    type: str
    target: str

    @property
    def spec(self) -> LocationSpec:
        return LocationSpec(self.type, self.target)

    def to_json(self) -> dict[str, str]:
        return {"id": self.id, "type": self.type, "target": self.target, "entityRef": generated_location_ref(self.spec)}


class CatalogService:
    def __init__(
        self,
        *,
        database: Database,
        config: CatalogConfig,
        read_url: Callable[[str], bytes],
        config_dir: Path | None = None,
        audit: PluginAuditor | None = None,
    ) -> None:
        self.database = database
        self.audit = audit
        self.config = config
        self.config_dir = config_dir or Path.cwd()
        locations = [loc.model_dump(exclude_none=True) for loc in config.locations]
        self.rules = RulesEnforcer.from_config(dump_rules(config), locations, base_dir=self.config_dir)
        self.ingestor = Ingestor(
            database=database, rules=self.rules, read_url=read_url, orphan_strategy=config.orphanStrategy,
            max_file_bytes=config.limits.maxFileBytes,
        )
        if audit is not None and audit.enabled:
            self.ingestor.record_batch = self._record_batch
        self.queries = CatalogQueries(database)
        self.refresh_interval = refresh_interval_seconds(config)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._wake = threading.Event()

    # -- locations -------------------------------------------------------------------------
    def config_locations(self) -> list[LocationSpec]:
        return [
            normalize_root(LocationSpec(loc.type, loc.target), base_dir=self.config_dir)
            for loc in self.config.locations
        ]

    def registered_locations(self) -> list[Location]:
        """Locations registered through the API or the CLI (config locations are not rows here)."""
        t = tables.locations
        stmt = select(t.c.id, t.c.type, t.c.target).where(t.c.source != "config").order_by(t.c.created_at, t.c.id)
        with self.database.engine.connect() as connection:
            return [Location(r.id, r.type, r.target) for r in connection.execute(stmt)]

    def location(self, location_id: str) -> Location:
        t = tables.locations
        with self.database.engine.connect() as connection:
            row = connection.execute(
                select(t.c.id, t.c.type, t.c.target).where(t.c.id == location_id, t.c.source != "config")
            ).first()
        if row is None:
            raise NotFoundError(f"Found no location with ID {location_id}")
        return Location(row.id, row.type, row.target)

    def _find_location(self, spec: LocationSpec) -> Location | None:
        t = tables.locations
        with self.database.engine.connect() as connection:
            row = connection.execute(
                select(t.c.id, t.c.type, t.c.target).where(t.c.type == spec.type, t.c.target == spec.target,
                                                          t.c.source != "config")
            ).first()
        return Location(row.id, row.type, row.target) if row else None

    def check_api_location(self, type_: str, target: str) -> LocationSpec:
        if type_ not in API_LOCATION_TYPES:
            raise InputError('Registered locations must be of an allowed type ["url"]')
        if not target:
            raise InputError("Location target must not be empty")
        return LocationSpec(type_, target)

    def dry_run(self, spec: LocationSpec) -> tuple[bool, TreeResult]:
        result = self.ingestor.read_tree(spec)
        return self._find_location(spec) is not None, result

    def add_location(
        self, spec: LocationSpec, *, source: str = "api", ingest: bool = True, cause: Operation | None = None
    ) -> Location:
        """Register a location and ingest it now (the caller sees its entities at once).

        The location row is written in the ingestion's own transaction: it is registered with
        its tree or not at all, and `cause` (an audited operation) records one event for both,
        with the ingestion's counts."""
        if self.config.readonly and source == "api":
            raise NotAllowedError("This operation not allowed in readonly mode")
        t = tables.locations
        location = Location(str(uuid.uuid4()), spec.type, spec.target)

        def refuse_a_second(connection: Connection) -> None:
            found = connection.execute(
                select(t.c.id).where(t.c.type == spec.type, t.c.target == spec.target)
            ).first()
            if found is not None:
                raise ConflictError(f"Location {spec.key} already exists")

        def register(connection: Connection) -> None:
            refuse_a_second(connection)
            connection.execute(
                t.insert().values(
                    id=location.id, type=spec.type, target=spec.target, source=source,
                    created_at=datetime.now(UTC),
                )
            )
            if cause is not None:  # from here on the event is about this location
                cause.amend(target=location.id, meta={"location": location.to_json()})

        if not ingest:
            with self.database.engine.begin() as connection:
                register(connection)
                if cause is not None:
                    cause.record(connection)
            return location
        with self.database.engine.connect() as connection:  # before reading anything; again when writing
            refuse_a_second(connection)
        self.ingestor.ingest(spec, force=True, cause=cause, before_write=register)
        return location

    def update_location(self, location_id: str, spec: LocationSpec, *, cause: Operation | None = None) -> Location:
        """PUT /locations/:id: point a registered location elsewhere; its old tree goes."""
        if self.config.readonly:
            raise NotAllowedError("This operation not allowed in readonly mode")
        old = self.location(location_id)
        t = tables.locations
        with self.database.engine.begin() as connection:
            clash = connection.execute(
                select(t.c.id).where(t.c.type == spec.type, t.c.target == spec.target, t.c.id != location_id)
            ).first()
            if clash is not None:
                raise ConflictError(f"Location {spec.key} already exists")
            connection.execute(update(t).where(t.c.id == location_id).values(type=spec.type, target=spec.target))
            if cause is not None:
                cause.record(connection, meta={"before": old.to_json(),
                                               "location": Location(location_id, spec.type, spec.target).to_json()})
        if old.spec != spec:
            self._remove_tree(old.spec, cause)
            self.ingestor.ingest(spec, force=True, cause=cause)
        return Location(location_id, spec.type, spec.target)

    def delete_location(self, location_id: str, *, cause: Operation | None = None) -> None:
        """Unregister a location and delete its tree, in one transaction (one audit event)."""
        if self.config.readonly:
            raise NotAllowedError("This operation not allowed in readonly mode")
        location = self.location(location_id)
        t = tables.locations
        if cause is not None:
            cause.amend(meta={"location": location.to_json()})

        def unregister(connection: Connection) -> None:
            connection.execute(delete(t).where(t.c.id == location_id))

        self._remove_tree(location.spec, cause, before=unregister)

    def _remove_tree(
        self, spec: LocationSpec, cause: Operation | None = None, *, before: Callable[[Connection], None] | None = None
    ) -> None:
        """A location went away: its entities go with it (Backstage deletes them at once), and what
        its last ingestion found, in one transaction (after `before`)."""
        audit = None
        if self.audit is not None and self.audit.enabled:
            def audit(connection: Connection, stats: ApplyStats) -> None:
                self._record_batch(connection, spec, stats, cause, action="delete-tree")

        def forget(connection: Connection) -> None:
            if before is not None:
                before(connection)
            s = tables.location_status
            connection.execute(delete(s).where(s.c.location_key == spec.key))

        CatalogWriter(self.database, orphan_strategy="delete").apply(TreeResult(origin=spec), audit=audit,
                                                                      before=forget)

    def location_by_entity(self, key: str) -> Location:
        row = self.queries.entity_row(key)
        if row is None:
            raise NotFoundError(f"found no entity for ref {key}")
        annotations = (orjson.loads(row.final).get("metadata") or {}).get("annotations") or {}
        origin = annotations.get("backstage.io/managed-by-origin-location")
        if not origin:
            raise NotFoundError(f"found no origin annotation for ref {key}")
        spec = LocationSpec.parse_ref(origin)
        found = self._find_location(spec)
        if found is None:
            raise NotFoundError(f"Found no location with type {spec.type} and target {spec.target}")
        return found

    def location_status(
        self, restrict: ColumnElement[bool] | None = None, *, only: str | None = None
    ) -> list[dict[str, Any]]:
        """What the last ingestion of each location tree found, errors included.

        With `restrict` (a caller whose entity reads are conditional), counts are of the entities
        the caller may read, and errors and warnings (which name entities) are left out. `only`
        (a location key, `type:target`) reads that one location's status.
        """
        s, e = tables.location_status, tables.entities
        registered = {loc.spec.key: loc for loc in self.registered_locations()}
        configured = {spec.key for spec in self.config_locations()}
        visible: dict[str, int] = {}
        with self.database.engine.connect() as connection:
            status = select(s) if only is None else select(s).where(s.c.location_key == only)
            rows = {r.location_key: r for r in connection.execute(status)}
            if restrict is not None:
                counted = select(e.c.origin_key, func.count()).where(restrict)
                if only is not None:
                    counted = counted.where(e.c.origin_key == only)
                visible = {key: int(count) for key, count in connection.execute(counted.group_by(e.c.origin_key))
                           if key is not None}
        keys = [*configured, *(k for k in registered if k not in configured)]
        out = []
        for key in keys if only is None else [k for k in keys if k == only]:
            row = rows.get(key)
            spec = LocationSpec.parse_ref(key)
            loc = registered.get(key)
            out.append(
                {
                    "location": {"id": loc.id if loc else None, "type": spec.type, "target": spec.target,
                                 "source": "config" if key in configured else "api"},
                    "entityCount": (visible.get(key, 0) if restrict is not None
                                    else row.entity_count if row else 0),
                    "lastRunAt": row.last_run_at.isoformat() if row and row.last_run_at else None,
                    "lastSuccessAt": row.last_success_at.isoformat() if row and row.last_success_at else None,
                    "durationMs": row.duration_ms if row else None,
                    "errors": orjson.loads(row.errors) if row and row.errors and restrict is None else [],
                    "warnings": orjson.loads(row.warnings) if row and row.warnings and restrict is None else [],
                }
            )
        return out

    # -- entities --------------------------------------------------------------------------
    def delete_entity(self, uid: str, *, cause: Operation | None = None) -> None:
        """DELETE by-uid: gone now; still emitted by a location, it comes back on the next run."""
        e, r, s = tables.entities, tables.relations, tables.search
        writer = CatalogWriter(self.database)
        with writer.lock(), self.database.engine.begin() as connection:
            writer._lock_in_database(connection)
            row = connection.execute(select(e.c.pk, e.c.ref, e.c.origin_key).where(e.c.id == uid)).first()
            if row is None:
                if cause is not None:
                    cause.record(connection, meta={"found": False})
                return
            peers = [x.source_ref for x in connection.execute(
                select(r.c.source_ref).where(r.c.originating_pk == row.pk))]
            connection.execute(delete(r).where(r.c.originating_pk == row.pk))
            connection.execute(delete(s).where(s.c.entity_pk == row.pk))
            connection.execute(delete(tables.documents).where(tables.documents.c.entity_pk == row.pk))
            connection.execute(delete(e).where(e.c.pk == row.pk))
            if row.origin_key:
                st = tables.location_status
                connection.execute(update(st).where(st.c.location_key == row.origin_key).values(inputs=None))
            if cause is not None:
                cause.record(connection, meta={"entityRef": row.ref, "location": row.origin_key})
        writer.restitch(set(peers) - {row.ref})

    def refresh(self, key: str, *, cause: Operation | None = None) -> None:
        row = self.queries.entity_row(key)
        if row is None:
            raise NotFoundError(f"Entity {key.lower()} not found")
        if row.origin_key:
            self.ingestor.ingest(LocationSpec.parse_ref(row.origin_key), force=True, cause=cause)

    def validate(self, entity: Any, location_ref: str) -> list[dict[str, Any]]:
        """POST /validate-entity: the errors Backstage would report (empty when valid)."""
        from greenroom.plugins.catalog.model import EntityValidationError

        spec = LocationSpec.parse_ref(location_ref)
        if spec.type != "url":
            return [{"name": "TypeError", "message": f"Invalid location ref {location_ref}, only 'url:<target>' "
                     "is supported, e.g. url:https://host/path"}]
        try:
            validate_document(entity)
        except EntityValidationError as exc:
            error: dict[str, Any] = {"name": exc.name if exc.stage != "envelope" else "TypeError",
                                     "message": exc.message if exc.stage != "envelope" else exc.cause_message}
            if exc.stage != "envelope" and exc.cause_name:
                error["cause"] = {"name": exc.cause_name, "message": exc.cause_message}
            return [error]
        from greenroom.plugins.catalog.model import relations_for

        try:
            relations_for(validate_document(entity))
        except EntityValidationError as exc:
            return [{"name": exc.name, "message": exc.message,
                     "cause": {"name": exc.cause_name, "message": exc.cause_message}}]
        return []

    # -- background refresh ----------------------------------------------------------------
    def sync_config_locations(self) -> list[LocationSpec]:
        """Record the configured locations; forget trees of locations no longer configured."""
        wanted = {spec.key: spec for spec in self.config_locations()}
        t = tables.locations
        with self.database.engine.begin() as connection:
            stale = [
                LocationSpec(r.type, r.target)
                for r in connection.execute(select(t.c.type, t.c.target).where(t.c.source == "config"))
                if f"{r.type}:{r.target}" not in wanted
            ]
            for spec in stale:
                connection.execute(delete(t).where(t.c.type == spec.type, t.c.target == spec.target,
                                                   t.c.source == "config"))
            known = {f"{r.type}:{r.target}" for r in connection.execute(select(t.c.type, t.c.target))}
            for key, spec in wanted.items():
                if key not in known:
                    connection.execute(
                        t.insert().values(id=str(uuid.uuid4()), type=spec.type, target=spec.target,
                                          source="config", created_at=datetime.now(UTC))
                    )
        for spec in stale:
            self._remove_tree(spec)
        return list(wanted.values())

    def ingest_all(self, *, force: bool = False) -> dict[str, ApplyStats]:
        results: dict[str, ApplyStats] = {}
        specs = self.sync_config_locations() + [loc.spec for loc in self.registered_locations()]
        for spec in specs:
            if self._stop.is_set():
                break
            try:
                results[spec.key] = self.ingestor.ingest(spec, force=force)
            except Exception:  # a broken tree must not stop the others
                log.exception("location ingestion failed", extra={"location": spec.key})
        return results

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="catalog-refresh", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None

    def _loop(self) -> None:
        self.ingest_all()
        while not self._stop.is_set() and self.refresh_interval is not None:
            self._wake.wait(self.refresh_interval)
            self._wake.clear()
            if self._stop.is_set():
                break
            self.ingest_all()

    # -- audit ------------------------------------------------------------------------------
    def _record_batch(
        self, connection: Connection, spec: LocationSpec, stats: ApplyStats, cause: Operation | None,
        *, action: str = "ingest",
    ) -> None:
        """One audit event per applied tree, with counts (not one per entity), in its transaction.

        A background run that changed nothing records nothing; a run a request asked for
        always records (as that request's event if it has not recorded yet)."""
        assert self.audit is not None
        changed = stats.inserted + stats.updated + stats.orphaned + stats.deleted
        if cause is None and not changed:
            return
        meta: dict[str, Any] = {"location": spec.key, "inserted": stats.inserted, "updated": stats.updated,
                                "unchanged": stats.unchanged, "orphaned": stats.orphaned, "deleted": stats.deleted,
                                "conflicts": stats.conflicts, "errors": len(stats.errors)}
        if cause is not None and cause.recorded is None:
            if "location" in cause.meta:  # a location's own event: it names the location already
                del meta["location"]
            cause.record(connection, meta=meta)
            return
        actor = cause.event.actor if cause is not None else SYSTEM_ACTOR
        request = cause.event.request if cause is not None else None
        self.audit.record(
            AuditEvent(event_id="entity-mutate", severity="medium", plugin=self.audit.plugin_id, actor=actor,
                       action=action, target=spec.key, request=request, meta=meta),
            connection=connection,
        )

    def entity_refs(self, keys: Sequence[str]) -> list[bytes | None]:
        return self.queries.by_refs(keys)

    # -- for permission policies (through CATALOG) -------------------------------------------
    def relations_of(self, refs: Sequence[str], types: Sequence[str]) -> list[tuple[str, str, str]]:
        """(source, type, target) of the stored relations leaving `refs` with one of `types`,
        refs lower case. Relations name groups that have no entity too (a `memberOf` to a
        group nobody defined), which is what group-based role membership follows."""
        r = tables.relations
        keys = sorted({ref.lower() for ref in refs})
        found: list[tuple[str, str, str]] = []
        with self.database.engine.connect() as connection:
            for part in chunks(keys, 500):
                stmt = select(r.c.source_ref, r.c.type, r.c.target_ref).where(
                    r.c.source_ref.in_(part), r.c.type.in_(list(types)))
                found.extend((row.source_ref, row.type, row.target_ref.lower()) for row in connection.execute(stmt))
        return sorted(set(found))

    def change_marker(self) -> tuple[int, str]:
        """Changes whenever an entity is added, changed or deleted: (count, latest update).
        Cheap enough to poll every few seconds; caches of derived data compare it."""
        e = tables.entities
        with self.database.engine.connect() as connection:
            row = connection.execute(select(func.count(), func.max(e.c.updated_at)).select_from(e)).first()
        return (int(row[0] or 0), str(row[1])) if row is not None else (0, "")

    def existing_refs(self, refs: Sequence[str]) -> set[str]:
        """Which of `refs` (any case) name an entity in the catalog, lower case."""
        e = tables.entities
        keys = sorted({ref.lower() for ref in refs})
        found: set[str] = set()
        with self.database.engine.connect() as connection:
            for part in chunks(keys, 500):
                found.update(connection.execute(select(e.c.ref).where(e.c.ref.in_(part))).scalars())
        return found

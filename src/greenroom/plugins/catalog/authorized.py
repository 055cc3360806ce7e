"""The catalog as one principal may read it: every read restricted by their read decision.

What the REST routes do per request (`_restrict` in routes.py: ALLOW reads everything, a
CONDITIONAL decision becomes a SQL condition, DENY is refused), packaged for callers that are
not REST routes (the web UI): they ask the permission service for `catalog.entity.read` with
the principal, exactly as the route guard does, and hand the decision here. Every query then
carries the condition in its WHERE clause, so lists, counts, cursors, facets and relation
look-ups never see an entity the principal may not read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import ColumnElement, and_, select, true

from greenroom.errors import NotAllowedError
from greenroom.permissions.model import Decision, Result
from greenroom.plugins.catalog.permission_rules import criteria_to_sql
from greenroom.plugins.catalog.permissions import ENTITY_READ
from greenroom.plugins.catalog.service import CatalogService
from greenroom.plugins.catalog.store import tables
from greenroom.plugins.catalog.store.filters import Predicate, compile_predicate
from greenroom.plugins.catalog.store.queries import QueryPage, QueryRequest


def read_condition(decision: Decision) -> ColumnElement[bool] | None:
    """The SQL condition a `catalog.entity.read` decision imposes (None: no restriction)."""
    if decision.result is Result.ALLOW:
        return None
    if decision.result is Result.CONDITIONAL:
        return criteria_to_sql(decision.conditions)
    raise NotAllowedError(f"Missing permission {ENTITY_READ.name}")


@dataclass(frozen=True)
class EntityChange:
    ref: str
    entity: dict[str, Any]
    updated_at: Any


class AuthorizedCatalog:
    """Reads of the catalog restricted to what one read decision allows."""

    def __init__(self, service: CatalogService, decision: Decision) -> None:
        self.service = service
        self.queries = service.queries
        self.decision = decision
        self.restrict = read_condition(decision)

    def by_ref(self, ref: str) -> dict[str, Any] | None:
        raw = self.queries.by_ref(ref, self.restrict)
        return None if raw is None else orjson.loads(raw)

    def by_refs(self, refs: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The readable entities among `refs`, keyed by lower-case ref."""
        keys = [r.lower() for r in refs]
        found = self.queries.by_refs(keys, None, self.restrict)
        return {key: orjson.loads(raw) for key, raw in zip(keys, found, strict=True) if raw is not None}

    def query(self, request: QueryRequest) -> tuple[list[dict[str, Any]], QueryPage]:
        page = self.queries.query(request, self.restrict)
        return [orjson.loads(item) for item in page.items], page

    def facets(self, names: Sequence[str], predicate: Predicate | None) -> dict[str, list[dict[str, Any]]]:
        return self.queries.facets(names, predicate, self.restrict)

    def recently_changed(self, limit: int, predicate: Predicate | None = None) -> list[EntityChange]:
        """The entities whose content changed last (ingestion skips unchanged ones)."""
        e, d = tables.entities, tables.documents
        conditions: list[ColumnElement[bool]] = [true()]
        if predicate is not None:
            conditions.append(compile_predicate(predicate))
        if self.restrict is not None:
            conditions.append(self.restrict)
        stmt = (
            select(e.c.ref, e.c.updated_at, d.c.final)
            .join_from(e, d, d.c.entity_pk == e.c.pk)
            .where(and_(*conditions))
            .order_by(e.c.updated_at.desc(), e.c.ref)
            .limit(limit)
        )
        with self.service.database.engine.connect() as connection:
            return [EntityChange(row.ref, orjson.loads(row.final), row.updated_at) for row in connection.execute(stmt)]


@dataclass(frozen=True)
class LocationPreview:
    """What registering a location would do (POST /locations?dryRun=true), for a page to show."""

    type: str
    target: str
    exists: bool
    entities: list[dict[str, Any]]
    errors: list[dict[str, Any]]


def preview_location(service: CatalogService, type_: str, target: str) -> LocationPreview:
    """A dry run of registering a location (the caller checked `catalog.location.create`)."""
    from greenroom.plugins.catalog.processing.pipeline import processing_order

    spec = service.check_api_location(type_, target)
    exists, result = service.dry_run(spec)
    entities = [] if result.errors else [e.entity for e in processing_order(result)]
    return LocationPreview(spec.type, spec.target, exists, entities, [e.to_json() for e in result.errors])

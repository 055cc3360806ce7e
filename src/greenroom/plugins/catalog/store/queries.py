"""Reads: every list, query, facet and lookup, each a single indexed SQL statement.

Entities are returned as the stitched JSON stored at write time, so a page is the stored
bytes joined together; only a `fields` projection parses them. Every read takes an optional
`restrict` condition (a permission decision compiled to SQL) that is ANDed into the WHERE
clause, so counts, cursors and facets never see what the caller may not.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import ColumnElement, Select, and_, func, literal, or_, select, true

from greenroom.db.engine import Database
from greenroom.errors import InputError
from greenroom.plugins.catalog.store import tables
from greenroom.plugins.catalog.store.filters import Predicate, compile_predicate
from greenroom.plugins.catalog.store.writer import chunks

DEFAULT_QUERY_LIMIT = 200
UNPAGINATED_BATCH = 10_000
# A full-text first page whose matches are at most this many is read in one pass (page + count).
SINGLE_PASS_MAX = 300


@dataclass
class OrderField:
    field: str
    order: str = "asc"

    def to_json(self) -> dict[str, str]:
        return {"field": self.field, "order": self.order}


@dataclass
class QueryRequest:
    predicate: Predicate | None = None
    order_fields: list[OrderField] = field(default_factory=list)
    full_text_term: str = ""
    full_text_fields: list[str] | None = None
    limit: int = DEFAULT_QUERY_LIMIT
    offset: int = 0
    include_total: bool = True
    cursor: dict[str, Any] | None = None
    legacy_full_text: bool = True  # GET writes fullTextFilter even when empty; POST only when given
    raw_full_text: dict[str, Any] | None = None


@dataclass
class QueryPage:
    items: list[bytes]
    total_items: int
    next_cursor: str | None
    prev_cursor: str | None


def encode_cursor(data: dict[str, Any]) -> str:
    return base64.b64encode(orjson.dumps(data)).decode("ascii")


def decode_cursor(raw: str) -> dict[str, Any]:
    try:
        data = orjson.loads(base64.b64decode(raw.encode("ascii"), validate=False))
    except (binascii.Error, ValueError, UnicodeError) as exc:
        raise InputError(f"Malformed cursor: {type(exc).__name__}: {exc}") from exc
    if not isinstance(data, dict):
        raise InputError("Malformed cursor: expected an object")
    for required in ("orderFields", "orderFieldValues", "isPrevious"):
        if required not in data:
            raise InputError(f"Malformed cursor: missing '{required}'")
    if not isinstance(data["orderFieldValues"], list) or not isinstance(data["orderFields"], list):
        raise InputError("Malformed cursor: orderFields and orderFieldValues must be lists")
    return data


def project(entity_json: bytes, fields: Sequence[str] | None) -> bytes:
    """Backstage's `fields` projection: dotted paths, joining parts that are keys with dots."""
    if not fields:
        return entity_json
    entity = orjson.loads(entity_json)
    out: dict[str, Any] = {}
    for path in fields:
        parts = path.split(".")
        node: Any = entity
        resolved: list[str] = []
        i = 0
        found = True
        while i < len(parts):
            key = parts[i]
            j = i
            while isinstance(node, dict) and key not in node and j + 1 < len(parts):
                j += 1
                key = f"{key}.{parts[j]}"
            if isinstance(node, dict) and key in node:
                node = node[key]
                resolved.append(key)
                i = j + 1
            elif isinstance(node, list) and key.isdigit() and int(key) < len(node):
                node = node[int(key)]
                resolved.append(key)
                i = j + 1
            else:
                found = False
                break
        if not found:
            continue
        target = out
        for key in resolved[:-1]:
            nxt = target.get(key)
            if not isinstance(nxt, dict):
                nxt = {}
                target[key] = nxt
            target = nxt
        target[resolved[-1]] = node
    return orjson.dumps(out)


class CatalogQueries:
    def __init__(self, database: Database) -> None:
        self.database = database
        self.postgres = database.dialect == "postgresql"
        # The hottest reads skip SQL construction: a fixed statement in the driver's paramstyle.
        mark = "%s" if self.postgres else "?"
        join = "FROM catalog_entities e JOIN catalog_documents d ON d.entity_pk = e.pk"
        self._final_by_ref = f"SELECT d.final {join} WHERE e.ref = {mark}"
        self._final_by_uid = f"SELECT d.final {join} WHERE e.id = {mark}"
        # Restricted single-row reads (a user whose read is conditional) skip SQL construction
        # too: the condition is compiled once to the driver's positional paramstyle.
        self._mark = mark
        self._restricted_cache: dict[int, tuple[ColumnElement[bool], tuple[str, tuple[Any, ...]]]] = {}
        self._positional_dialect: Any = database.engine.dialect
        if self.postgres:
            from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg

            self._positional_dialect = PGDialect_psycopg(paramstyle="format")  # type: ignore[no-untyped-call]

    @staticmethod
    def _documents(connection: Any, pks: Sequence[int]) -> list[bytes]:
        """The stored JSON of `pks`, in that order."""
        d = tables.documents
        found: dict[int, bytes] = {}
        for part in chunks(list(pks), 900):
            for pk, final in connection.execute(select(d.c.entity_pk, d.c.final).where(d.c.entity_pk.in_(part))):
                found[pk] = final
        return [found[pk] for pk in pks if pk in found]

    def _one_final(self, statement: str, value: str) -> bytes | None:
        row = self.database.fetch_one(statement, (value,))
        return None if row is None else bytes(row[0])

    def _c(self, column: Any) -> Any:
        """Byte-order comparison, as Backstage on SQLite: PostgreSQL needs the C collation."""
        return column.collate("C") if self.postgres else column

    @staticmethod
    def _where(predicate: Predicate | None, restrict: ColumnElement[bool] | None) -> ColumnElement[bool]:
        conditions = []
        if predicate is not None:
            conditions.append(compile_predicate(predicate))
        if restrict is not None:
            conditions.append(restrict)
        return and_(true(), *conditions)

    def _restricted(self, restrict: ColumnElement[bool]) -> tuple[str, tuple[Any, ...]]:
        """`restrict` as a driver-level SQL fragment over `catalog_entities` and its parameters,
        compiled once per condition object: permission decisions are cached, and the catalog's
        compiled conditions with them, so a user's requests keep reusing one."""
        entry = self._restricted_cache.get(id(restrict))
        if entry is not None and entry[0] is restrict:
            return entry[1]
        compiled = restrict.compile(dialect=self._positional_dialect, compile_kwargs={"render_postcompile": True})
        value = (str(compiled), tuple(compiled.params[name] for name in compiled.positiontup or ()))
        if len(self._restricted_cache) >= 1000:
            self._restricted_cache.clear()
        self._restricted_cache[id(restrict)] = (restrict, value)
        return value

    def _one_restricted(self, column: str, value: str, restrict: ColumnElement[bool]) -> bytes | None:
        fragment, params = self._restricted(restrict)
        # `column` is a constant of ours; the fragment is compiled from our expressions, with parameters.
        statement = (
            "SELECT d.final FROM catalog_entities JOIN catalog_documents d ON d.entity_pk = catalog_entities.pk "  # noqa: S608
            f"WHERE catalog_entities.{column} = {self._mark} AND ({fragment})"
        )
        row = self.database.fetch_one(statement, (value, *params))
        return None if row is None else bytes(row[0])

    # -- single entities -----------------------------------------------------------------
    def by_ref(self, key: str, restrict: ColumnElement[bool] | None = None) -> bytes | None:
        if restrict is None:
            return self._one_final(self._final_by_ref, key.lower())
        return self._one_restricted("ref", key.lower(), restrict)

    def by_uid(self, uid: str, restrict: ColumnElement[bool] | None = None) -> bytes | None:
        if restrict is None:
            return self._one_final(self._final_by_uid, uid)
        return self._one_restricted("id", uid, restrict)

    def by_refs(
        self, refs: Sequence[str], predicate: Predicate | None = None, restrict: ColumnElement[bool] | None = None
    ) -> list[bytes | None]:
        e, d = tables.entities, tables.documents
        keys = [r.lower() for r in refs]
        found: dict[str, bytes] = {}
        where = self._where(predicate, restrict)
        with self.database.engine.connect() as connection:
            for part in chunks(sorted(set(keys))):
                stmt = select(e.c.ref, d.c.final).join_from(e, d, d.c.entity_pk == e.c.pk)
                for row in connection.execute(stmt.where(e.c.ref.in_(part), where)):
                    found[row.ref] = row.final
        return [found.get(k) for k in keys]

    def entity_row(self, key: str) -> Any:
        e, d = tables.entities, tables.documents
        with self.database.engine.connect() as connection:
            return connection.execute(
                select(e.c.id, e.c.ref, d.c.final, e.c.origin_key, e.c.parent_ref)
                .join_from(e, d, d.c.entity_pk == e.c.pk)
                .where(e.c.ref == key.lower())
            ).first()

    def uid_of(self, key: str) -> str | None:
        e = tables.entities
        with self.database.engine.connect() as connection:
            return connection.execute(select(e.c.id).where(e.c.ref == key.lower())).scalar()

    # -- GET /entities --------------------------------------------------------------------
    def list_all(
        self,
        predicate: Predicate | None,
        order: Sequence[OrderField],
        restrict: ColumnElement[bool] | None = None,
    ) -> list[bytes]:
        """The unpaginated list: by uid, or by the first order field (dropping entities without it)."""
        e, s = tables.entities, tables.search
        where = self._where(predicate, restrict)
        if order:
            first = order[0]
            stmt = (
                select(e.c.pk)
                .select_from(e.join(s, and_(s.c.entity_pk == e.c.pk, s.c.key == first.field.lower())))
                .where(where, s.c.value.is_not(None))
            )
            value, uid = self._c(s.c.value), self._c(e.c.id)
            if first.order == "desc":
                stmt = stmt.order_by(value.desc(), uid.desc())
            else:
                stmt = stmt.order_by(value.asc(), uid.asc())
        else:
            stmt = select(e.c.pk).where(where).order_by(self._c(e.c.id))
        with self.database.engine.connect() as connection:
            return self._documents(connection, list(connection.execute(stmt).scalars()))

    def list_page(
        self,
        predicate: Predicate | None,
        order: Sequence[OrderField],
        limit: int | None,
        offset: int,
        restrict: ColumnElement[bool] | None = None,
    ) -> tuple[list[bytes], bool]:
        """The paginated list: by entity ref, or by every order field with nulls last."""
        e, s = tables.entities, tables.search
        where = self._where(predicate, restrict)
        source: Any = e
        ordering: list[Any] = []
        for i, item in enumerate(order):
            alias = s.alias(f"o{i}")
            source = source.outerjoin(alias, and_(alias.c.entity_pk == e.c.pk, alias.c.key == item.field.lower()))
            value = self._c(alias.c.value)
            ordering.append(alias.c.value.is_(None))
            ordering.append(value.desc() if item.order == "desc" else value.asc())
        ordering.append(self._c(e.c.id) if order else self._c(e.c.ref))
        stmt = select(e.c.pk).select_from(source).where(where).order_by(*ordering).offset(offset)
        if limit is not None:
            stmt = stmt.limit(limit + 1)
        with self.database.engine.connect() as connection:
            pks = list(connection.execute(stmt).scalars())
            more = limit is not None and len(pks) > limit
            return self._documents(connection, pks[:limit] if more else pks), more

    # -- by-query ---------------------------------------------------------------------------
    def query(self, request: QueryRequest, restrict: ColumnElement[bool] | None = None) -> QueryPage:
        cursor = request.cursor
        if cursor is not None:
            order_fields = [OrderField(o["field"], o.get("order") or "asc") for o in cursor["orderFields"]]
            predicate = cursor.get("query")
            full_text = cursor.get("fullTextFilter") or {}
            term = str(full_text.get("term") or "").strip()
            text_fields = full_text.get("fields")
        else:
            order_fields = request.order_fields
            predicate = request.predicate
            term = request.full_text_term.strip()
            text_fields = request.full_text_fields

        e, s = tables.entities, tables.search
        sort = order_fields[0] if order_fields else None
        descending = sort is not None and sort.order == "desc"
        conditions: list[ColumnElement[bool]] = []
        if term:
            # First: SQLite drives the query from the first IN list, and a full-text match is
            # almost always the most selective condition.
            keys = [f.lower() for f in (text_fields or [sort.field if sort else "metadata.uid"])]
            conditions.append(
                e.c.pk.in_(select(s.c.entity_pk).where(s.c.key.in_(keys), s.c.value.like(f"%{term.lower()}%")))
            )
        conditions.append(self._where(predicate, restrict))
        if sort is not None:
            source: Any = e.join(s, and_(s.c.entity_pk == e.c.pk, s.c.key == sort.field.lower()))
            conditions.append(s.c.value.is_not(None))
            value_col: Any = s.c.value
        else:
            source = e
            value_col = None
        where = and_(*conditions)

        with self.database.engine.connect() as connection:
            columns = [e.c.id, e.c.pk] + ([value_col] if value_col is not None else [])
            stmt: Select[Any] = select(*columns).select_from(source).where(where)
            is_previous = bool(cursor and cursor.get("isPrevious"))
            forward_desc = descending != is_previous  # the direction rows are fetched in
            if cursor is not None:
                stmt = stmt.where(self._after(cursor["orderFieldValues"], value_col, forward_desc))
            order_cols = ([self._c(value_col)] if value_col is not None else []) + [self._c(e.c.id)]
            stmt = stmt.order_by(*(c.desc() if forward_desc else c.asc() for c in order_cols))
            rows: list[Any] | None = None
            if cursor is not None:
                total = int(cursor.get("totalItems") or 0)
            elif request.include_total and term and request.limit:
                # A full-text first page usually matches few entities: one query that reads
                # them all (sorted) gives both the page and the count, instead of two passes
                # over the term match. Many matches: the count and the page as below.
                everything = list(connection.execute(stmt.limit(SINGLE_PASS_MAX + 1)))
                end = request.offset + request.limit + 1
                if len(everything) <= SINGLE_PASS_MAX:
                    total = len(everything)
                else:  # many matches: count them; the page is still in what was read when it ends early
                    total = int(connection.execute(select(func.count()).select_from(source).where(where)).scalar()
                                or 0)
                if len(everything) <= SINGLE_PASS_MAX or end <= len(everything):
                    rows = everything[request.offset:end]
            elif request.include_total:
                total = int(connection.execute(select(func.count()).select_from(source).where(where)).scalar() or 0)
            else:
                total = 0
            if request.limit == 0:
                return QueryPage([], total, None, None)
            if rows is None:
                if cursor is None and request.offset:
                    stmt = stmt.offset(request.offset)
                stmt = stmt.limit(request.limit + (0 if is_previous else 1))
                rows = list(connection.execute(stmt))
            has_more = not is_previous and len(rows) > request.limit
            rows = rows[: request.limit]
            if is_previous:
                rows.reverse()
            documents = self._documents(connection, [row[1] for row in rows])


        def values(row: Any) -> list[str]:
            return [row[2], row[0]] if value_col is not None else [row[0]]

        first_page_values = cursor.get("firstSortFieldValues") if cursor else (values(rows[0]) if rows else None)
        base: dict[str, Any] = {"orderFields": [o.to_json() for o in order_fields], "isPrevious": False}
        if predicate is not None:
            base["query"] = predicate
        if cursor is not None:
            if "fullTextFilter" in cursor:
                base["fullTextFilter"] = cursor["fullTextFilter"]
        elif request.raw_full_text is not None or request.legacy_full_text:
            full = {"term": request.full_text_term}
            if request.full_text_fields:
                full["fields"] = request.full_text_fields  # type: ignore[assignment]
            base["fullTextFilter"] = request.raw_full_text if request.raw_full_text is not None else full
        next_cursor = prev_cursor = None
        if rows and (has_more or is_previous):
            next_cursor = encode_cursor(
                {**base, "orderFieldValues": values(rows[-1]), "firstSortFieldValues": first_page_values,
                 "totalItems": total}
            )
        if rows and cursor is not None and values(rows[0]) != first_page_values:
            prev_cursor = encode_cursor(
                {**base, "isPrevious": True, "orderFieldValues": values(rows[0]),
                 "firstSortFieldValues": first_page_values, "totalItems": total}
            )
        return QueryPage(documents, total, next_cursor, prev_cursor)

    def _after(self, values: list[Any], value_col: Any, descending: bool) -> ColumnElement[bool]:
        e = tables.entities
        if value_col is None:
            if len(values) != 1:
                raise InputError("Malformed cursor: orderFieldValues does not match orderFields")
            pivot = literal(str(values[0]))
            condition: ColumnElement[bool] = (
                self._c(e.c.id) < self._c(pivot) if descending else self._c(e.c.id) > self._c(pivot)
            )
            return condition
        if len(values) != 2:
            raise InputError("Malformed cursor: orderFieldValues does not match orderFields")
        value, entity_id = (literal(str(v)) for v in values)
        col, idc = self._c(value_col), self._c(e.c.id)
        if descending:
            return or_(col < self._c(value), and_(value_col == value, idc < self._c(entity_id)))
        return or_(col > self._c(value), and_(value_col == value, idc > self._c(entity_id)))

    # -- facets ------------------------------------------------------------------------------
    def facets(
        self,
        facets: Sequence[str],
        predicate: Predicate | None,
        restrict: ColumnElement[bool] | None = None,
    ) -> dict[str, list[dict[str, Any]]]:
        e, s = tables.entities, tables.search
        where = self._where(predicate, restrict)
        filtered = select(e.c.pk).where(where) if predicate is not None or restrict is not None else None
        value = func.coalesce(s.c.original_value, s.c.value)
        out: dict[str, list[dict[str, Any]]] = {}
        with self.database.engine.connect() as connection:
            for facet in facets:
                stmt = select(value, func.count()).where(s.c.key == facet.lower(), s.c.value.is_not(None))
                if filtered is not None:
                    stmt = stmt.where(s.c.entity_pk.in_(filtered))
                rows = connection.execute(stmt.group_by(value)).all()
                out[facet] = [{"value": v, "count": int(c)} for v, c in sorted(rows, key=lambda r: r[0])]
        return out

    # -- ancestry ------------------------------------------------------------------------------
    def ancestry(self, key: str) -> list[tuple[bytes, list[str]]] | None:
        """(entity, parent refs) from the entity up to its root, depth-first as Backstage."""
        e = tables.entities
        out: list[tuple[bytes, list[str]]] = []
        seen: set[str] = set()
        stack = [key.lower()]
        with self.database.engine.connect() as connection:
            while stack:
                current = stack.pop()
                if current in seen:
                    continue
                seen.add(current)
                row = connection.execute(
                    select(tables.documents.c.final, e.c.parent_ref)
                    .join_from(e, tables.documents, tables.documents.c.entity_pk == e.c.pk)
                    .where(e.c.ref == current)
                ).first()
                if row is None:
                    if not out:
                        return None
                    continue
                parents = [row.parent_ref] if row.parent_ref else []
                existing = [p for p in parents if connection.execute(select(e.c.id).where(e.c.ref == p)).first()]
                out.append((row.final, existing))
                stack.extend(existing)
        return out

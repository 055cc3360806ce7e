"""The catalog's tables.

`entities` holds one row per entity with its stitched JSON ready to send; `search` holds
the entity flattened into (key, value) rows like Backstage's `search` table, so every
filter and permission condition is an indexed lookup; `relations` holds the relations each
entity emitted; `locations` the registered locations; `location_status` what the last
ingestion of each location tree found, including errors for trees that produced nothing.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from greenroom.db.base import metadata

# Search and relation rows point at entities by an integer key: a fraction of the size of
# the uid in every row and index entry, which is most of what ingestion writes.
ENTITY_PK = BigInteger().with_variant(Integer(), "sqlite")

entities = Table(
    "catalog_entities",
    metadata,
    Column("pk", ENTITY_PK, primary_key=True, autoincrement=True),
    Column("id", String(36), nullable=False, unique=True),
    Column("ref", String(600), nullable=False, unique=True),
    Column("kind", String(100), nullable=False),
    Column("namespace", String(100), nullable=False),
    Column("name", String(300), nullable=False),
    Column("location_key", String(2000), nullable=True),
    Column("origin_key", String(2000), nullable=True),
    Column("parent_ref", String(600), nullable=True),
    Column("hash", String(64), nullable=False),
    Column("etag", String(64), nullable=False),
    Column("orphan", Boolean, nullable=False, default=False),
    Column("errors", Text, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)
Index("ix_catalog_entities_origin_key", entities.c.origin_key)

# The stitched JSON lives apart from the entity row, so that scans and lookups over entities
# (every filter, count and sort) touch small rows, and the documents are read only for the
# page actually returned.
documents = Table(
    "catalog_documents",
    metadata,
    Column("entity_pk", ENTITY_PK, primary_key=True, autoincrement=False),
    Column("final", LargeBinary, nullable=False),
)

search = Table(
    "catalog_search",
    metadata,
    Column("entity_pk", ENTITY_PK, nullable=False),
    Column("key", String(200), nullable=False),
    Column("value", String(200), nullable=True),
    # Only when it differs from `value` (i.e. has upper case): most values are already lower case.
    Column("original_value", String(200), nullable=True),
)
# Covering for filters (key, value -> entity) and for facets (which also read original_value).
Index("ix_catalog_search_key_value", search.c.key, search.c.value, search.c.entity_pk, search.c.original_value)
Index("ix_catalog_search_entity_pk", search.c.entity_pk)

relations = Table(
    "catalog_relations",
    metadata,
    Column("originating_pk", ENTITY_PK, nullable=False),
    Column("source_ref", String(600), nullable=False),
    Column("type", String(100), nullable=False),
    Column("target_ref", String(600), nullable=False),
)
Index("ix_catalog_relations_source_ref", relations.c.source_ref)
Index("ix_catalog_relations_origin", relations.c.originating_pk)

locations = Table(
    "catalog_locations",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("type", String(100), nullable=False),
    Column("target", String(2000), nullable=False),
    Column("source", String(20), nullable=False),  # 'api' or 'config'
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("type", "target", name="uq_catalog_locations_type_target"),
)

location_status = Table(
    "catalog_location_status",
    metadata,
    Column("location_key", String(2000), primary_key=True),
    Column("warnings", Text, nullable=True),
    Column("entity_count", Integer, nullable=False, default=0),
    Column("errors", Text, nullable=True),
    Column("inputs", Text, nullable=True),
    Column("last_run_at", DateTime(timezone=True), nullable=True),
    Column("last_success_at", DateTime(timezone=True), nullable=True),
    Column("duration_ms", Integer, nullable=True),
)

"""catalog: entities, search rows, relations, locations and location status

Revision ID: catalog_0001
Revises:
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "catalog_0001"
down_revision = None
branch_labels = ("catalog",)
depends_on = None


ENTITY_PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "catalog_entities",
        sa.Column("pk", ENTITY_PK, primary_key=True, autoincrement=True),
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("ref", sa.String(600), nullable=False),
        sa.Column("kind", sa.String(100), nullable=False),
        sa.Column("namespace", sa.String(100), nullable=False),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("location_key", sa.String(2000), nullable=True),
        sa.Column("origin_key", sa.String(2000), nullable=True),
        sa.Column("parent_ref", sa.String(600), nullable=True),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("etag", sa.String(64), nullable=False),
        sa.Column("orphan", sa.Boolean, nullable=False),
        sa.Column("errors", sa.Text, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("ref", name="uq_catalog_entities_ref"),
        sa.UniqueConstraint("id", name="uq_catalog_entities_id"),
    )
    op.create_index("ix_catalog_entities_origin_key", "catalog_entities", ["origin_key"])
    op.create_table(
        "catalog_documents",
        sa.Column("entity_pk", ENTITY_PK, primary_key=True, autoincrement=False),
        sa.Column("final", sa.LargeBinary, nullable=False),
    )
    op.create_table(
        "catalog_search",
        sa.Column("entity_pk", ENTITY_PK, nullable=False),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("value", sa.String(200), nullable=True),
        sa.Column("original_value", sa.String(200), nullable=True),
    )
    op.create_index("ix_catalog_search_key_value", "catalog_search", ["key", "value", "entity_pk", "original_value"])
    op.create_index("ix_catalog_search_entity_pk", "catalog_search", ["entity_pk"])
    op.create_table(
        "catalog_relations",
        sa.Column("originating_pk", ENTITY_PK, nullable=False),
        sa.Column("source_ref", sa.String(600), nullable=False),
        sa.Column("type", sa.String(100), nullable=False),
        sa.Column("target_ref", sa.String(600), nullable=False),
    )
    op.create_index("ix_catalog_relations_source_ref", "catalog_relations", ["source_ref"])
    op.create_index("ix_catalog_relations_origin", "catalog_relations", ["originating_pk"])
    op.create_table(
        "catalog_locations",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("type", sa.String(100), nullable=False),
        sa.Column("target", sa.String(2000), nullable=False),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("type", "target", name="uq_catalog_locations_type_target"),
    )
    op.create_table(
        "catalog_location_status",
        sa.Column("location_key", sa.String(2000), primary_key=True),
        sa.Column("warnings", sa.Text, nullable=True),
        sa.Column("entity_count", sa.Integer, nullable=False),
        sa.Column("errors", sa.Text, nullable=True),
        sa.Column("inputs", sa.Text, nullable=True),
        sa.Column("last_run_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_success_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("duration_ms", sa.Integer, nullable=True),
    )


def downgrade() -> None:
    for table in ("catalog_location_status", "catalog_locations", "catalog_relations", "catalog_search",
                  "catalog_documents", "catalog_entities"):
        op.drop_table(table)

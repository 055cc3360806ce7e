"""catalog: a PostgreSQL index on the entity uid in byte order

By-query pages are ordered by uid in byte order (`COLLATE "C"`, as Backstage's SQLite does), and
cursors continue from a uid. The unique index on the uid is in the database's collation, which
that ordering cannot use: every first page sorted all the matching entities (`kind=component`
on a 10k catalog: a hash join of 5k rows and a top-N sort, 5 ms of a 10 ms request). With an
index in byte order the page walks the uids in order and probes the search index for each.
SQLite compares bytes already.

Revision ID: catalog_0003
Revises: catalog_0002
Create Date: 2026-11-29
"""

from __future__ import annotations

from alembic import op

revision = "catalog_0003"
down_revision = "catalog_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute('CREATE INDEX IF NOT EXISTS ix_catalog_entities_id_bytes ON catalog_entities (id COLLATE "C")')


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_catalog_entities_id_bytes")

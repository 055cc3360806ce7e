"""catalog: PostgreSQL statistics on the search rows' (key, value) pairs

Every filter is `key = ... AND value = ...` on catalog_search, and the two columns are far
from independent (`value = 'component'` only ever goes with `key = 'kind'`). Without
multi-column statistics PostgreSQL multiplies their selectivities, expects a few hundred rows
where there are tens of thousands, and picks nested loops: a facet query on a 100k catalog
took over half a second (and minutes before its first ANALYZE) instead of 40 ms.

Revision ID: catalog_0002
Revises: catalog_0001
Create Date: 2026-11-29
"""

from __future__ import annotations

from alembic import op

revision = "catalog_0002"
down_revision = "catalog_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE STATISTICS IF NOT EXISTS st_catalog_search_key_value (mcv, dependencies) "
                   "ON key, value FROM catalog_search")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP STATISTICS IF EXISTS st_catalog_search_key_value")

"""audit: no (event_id, seq) index on SQLite

Every audited change writes its event's row into each index of `audit_events`, and on SQLite
each index is one more page written to the log at commit: of the audit trail's cost on a
change (permission checks and recording together, target <= 5 %), a fifth was this index's
page when a location was unregistered. Filters on `eventId` are served on SQLite by the
newest-first walk along the sequence (a page of a frequent id is found at once), or by the
time index when a range is given; a rare id with no range reads the whole trail. PostgreSQL,
where an index entry costs a fraction of that and trails are larger, keeps the index.

Revision ID: audit_0002
Revises: audit_0001
Create Date: 2026-11-29
"""

from __future__ import annotations

from alembic import op

revision = "audit_0002"
down_revision = "audit_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP INDEX IF EXISTS ix_audit_events_event_id")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("CREATE INDEX IF NOT EXISTS ix_audit_events_event_id ON audit_events (event_id, seq)")

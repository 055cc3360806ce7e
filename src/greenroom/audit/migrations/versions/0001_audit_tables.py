"""audit: events (hash chain), chain head, checkpoints, forwarding cursors, state

Revision ID: audit_0001
Revises:
Create Date: 2026-12-10
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "audit_0001"
down_revision = None
branch_labels = ("audit",)
depends_on = None

GENESIS = "0" * 64


def upgrade() -> None:
    op.create_table(
        "audit_events",
        # INTEGER on SQLite makes the sequence number the rowid: one B-tree, not two
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=False),
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("time_us", sa.BigInteger, nullable=False),
        sa.Column("event_id", sa.String(100), nullable=False),
        sa.Column("action", sa.String(64), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("plugin", sa.String(64), nullable=False),
        sa.Column("actor_id", sa.String(600), nullable=True),
        sa.Column("actor_type", sa.String(32), nullable=True),
        sa.Column("ip", sa.String(64), nullable=True),
        sa.Column("hostname", sa.String(255), nullable=True),
        sa.Column("user_agent", sa.String(300), nullable=True),
        sa.Column("request_url", sa.Text, nullable=True),
        sa.Column("request_method", sa.String(16), nullable=True),
        sa.Column("request_id", sa.String(128), nullable=True),
        sa.Column("target", sa.String(1000), nullable=True),
        sa.Column("meta", sa.Text, nullable=False),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("exported_at", sa.BigInteger, nullable=True),
    )
    op.create_index("ix_audit_events_time_us", "audit_events", ["time_us"])
    op.create_index("ix_audit_events_actor_id", "audit_events", ["actor_id", "seq"])
    op.create_index("ix_audit_events_event_id", "audit_events", ["event_id", "seq"])
    op.create_index("ix_audit_events_target", "audit_events", ["target", "seq"])
    head = op.create_table(
        "audit_chain_head",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("mac", sa.String(64), nullable=True),
        sa.Column("key_id", sa.String(16), nullable=True),
    )
    op.bulk_insert(head, [{"id": 1, "seq": 0, "hash": GENESIS, "mac": None, "key_id": None}])
    op.create_table(
        "audit_checkpoints",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("mac", sa.String(64), nullable=True),
        sa.Column("key_id", sa.String(16), nullable=True),
    )
    op.create_index("ix_audit_checkpoints_kind_seq", "audit_checkpoints", ["kind", "seq"])
    op.create_table(
        "audit_sink_cursors",
        sa.Column("sink", sa.String(64), primary_key=True),
        sa.Column("delivered_seq", sa.BigInteger, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("next_attempt_at", sa.BigInteger, nullable=False),
        sa.Column("leased_by", sa.String(64), nullable=True),
        sa.Column("leased_until", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "audit_state",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )


def downgrade() -> None:
    for table in ("audit_state", "audit_sink_cursors", "audit_checkpoints", "audit_chain_head", "audit_events"):
        op.drop_table(table)
